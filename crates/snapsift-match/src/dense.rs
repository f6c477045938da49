//! Regions dense with anchor hits: one automaton pass over the region instead of one
//! confirmation per hit.
//!
//! # Why
//!
//! Each hit of an anchor costs the anchor search's verification and a run of the rule's regex:
//! 50 to 150 ns, whatever the regex then reads. On ordinary bytes hits are rare and that is
//! nothing; on bytes made of an anchor repeated (`AKIA AKIA AKIA ...`, a line of `secret=`),
//! a hit every few bytes made the matcher a hundred times slower than on random bytes. A disk
//! image is written by whoever owned the machine, so its bytes may be exactly that.
//!
//! # How
//!
//! Where the anchor search sees many candidates in a row of its steps, the matcher stops
//! verifying them one by one and hands the region to a [`DenseFilter`]: one lazy DFA of every
//! rule's pattern at once, reversed and unanchored, which reads the region once, from its end
//! back to its start, and reports every position where a match of some rule's pattern
//! *begins*, and which rule's. The matcher confirms only those, in order, exactly as it
//! confirms a hit. On bytes made to be slow nothing matches, so the region costs one
//! automaton step per byte, however dense its anchors.
//!
//! # Why it finds the same matches
//!
//! The automaton's patterns are the rules' patterns *loosened* (`compile::loosen`): every
//! repetition keeps at most a short lower bound and loses its upper one. A loosened pattern
//! matches every text its rule's pattern matches, so every position where the rule's regex
//! would confirm a hit is reported; positions reported beyond those are confirmed and give
//! nothing, as a hit there would. Every match begins with an anchor of its rule, so a reported
//! position is a hit the anchor search would have found. The automaton reads from the end of
//! the region plus the longest rule's reach, with the bytes around it as look-around, so it
//! sees every match a hit in the region could confirm.
//!
//! Rules whose matches may be cut at their length limit (a PEM block without its footer) have
//! a match even where their pattern does not match, so they are left out of the automaton:
//! their anchors are searched in the region by a search of their own, and their hits are
//! confirmed one by one as anywhere else (where the shared runs of `runs` bound their cost).
//!
//! Where the automaton cannot go on (its cache thrashes on bytes made for it), it gives up,
//! and the region's hits are confirmed one by one: the filter only ever saves work.

use std::ops::Range;

use regex_automata::hybrid::LazyStateID;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::{Anchored, Input, MatchError, MatchKind};
use regex_syntax::hir::Hir;

use crate::RuleError;

/// The lazy DFA's cache, per thread: the filter's states for the few rules a region holds fit
/// in far less.
const CACHE_CAPACITY: usize = 2 << 20;

/// The lazy DFA gives up once its cache has been cleared this many times and it makes new
/// states faster than one per [`MIN_BYTES_PER_STATE`] bytes: on such bytes it is no faster than
/// confirming each hit.
const MIN_CACHE_CLEARS: usize = 3;

/// See [`MIN_CACHE_CLEARS`].
const MIN_BYTES_PER_STATE: usize = 10;

/// How many walks [`DenseFilter::starts`] steps in turn over a long region.
const LANES: usize = 4;

/// The shortest part of a region one walk is given: each walk reads [`DenseFilter::reach`]
/// past its part.
const MIN_LANE: usize = 64 << 10;

/// One walk of the reverse automaton: from `at` back to `start`, reporting the matches that
/// begin before `report_end`.
#[derive(Clone, Copy, Debug)]
struct Walk {
    state: LazyStateID,
    at: usize,
    start: usize,
    report_end: usize,
}

/// Why walks stopped early.
#[derive(Debug)]
enum Walked {
    /// The cache was cleared while several walks were under way.
    CacheCleared,
    /// The automaton gave up or met a byte it cannot read.
    Failed(MatchError),
}

/// One automaton of every rule that can only match where its pattern does (see the module
/// docs). Immutable and `Send + Sync`; each thread brings a [`DenseCache`].
#[derive(Debug)]
pub(crate) struct DenseFilter {
    /// The loosened patterns, reversed, unanchored, reporting every match.
    dfa: DFA,
    /// For each of the automaton's patterns, the rule it stands for.
    rules: Vec<usize>,
    /// The longest match of any of these rules, in characters: how far past a region the
    /// automaton must start reading.
    reach: usize,
}

/// A thread's working memory for [`DenseFilter::starts`], made at the thread's first dense
/// region: most threads never meet one.
#[derive(Debug, Default)]
pub(crate) struct DenseCache(Option<Cache>);

impl DenseFilter {
    /// The filter for `rules`: each rule's index, loosened pattern and longest match. `None`
    /// if there are none.
    pub(crate) fn new(rules: &[(usize, &Hir, usize)]) -> Result<Option<DenseFilter>, RuleError> {
        DenseFilter::with_cache(rules, CACHE_CAPACITY, true)
    }

    /// [`DenseFilter::new`] with a cache of `capacity` bytes (at least what the automaton
    /// needs), giving up on a thrashing cache only if `give_up`: tests make the cache small and
    /// keep going, so that it is cleared under every walk.
    fn with_cache(
        rules: &[(usize, &Hir, usize)],
        capacity: usize,
        give_up: bool,
    ) -> Result<Option<DenseFilter>, RuleError> {
        if rules.is_empty() {
            return Ok(None);
        }
        let error = |message: String| RuleError::Automaton(format!("dense filter: {message}"));
        let hirs: Vec<&Hir> = rules.iter().map(|&(_, hir, _)| hir).collect();
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .reverse(true)
                    .utf8(false)
                    .which_captures(thompson::WhichCaptures::None),
            )
            .build_many_from_hir(&hirs)
            .map_err(|e| error(e.to_string()))?;
        let dfa = DFA::builder()
            .configure(
                DFA::config()
                    .match_kind(MatchKind::All)
                    .cache_capacity(capacity)
                    .skip_cache_capacity_check(true)
                    .minimum_cache_clear_count(give_up.then_some(MIN_CACHE_CLEARS))
                    .minimum_bytes_per_state(give_up.then_some(MIN_BYTES_PER_STATE)),
            )
            .build_from_nfa(nfa)
            .map_err(|e| error(e.to_string()))?;
        Ok(Some(DenseFilter {
            dfa,
            rules: rules.iter().map(|&(rule, _, _)| rule).collect(),
            reach: rules.iter().map(|&(_, _, len)| len).max().unwrap_or(0),
        }))
    }

    /// How many characters past a region [`DenseFilter::starts`] reads.
    pub(crate) fn reach(&self) -> usize {
        self.reach
    }

    /// Appends to `out`, as `(position, rule)` in no set order, every position in `region`
    /// of `text` where a match of one of the filter's rules may begin (see the module docs),
    /// reading `text` from `region.start` to the region's end plus [`DenseFilter::reach`]
    /// (or the end of `text`), with the bytes around that as look-around. Adds the bytes read
    /// to `work`. Fails where the automaton gives up; `out` then holds part of the answer.
    pub(crate) fn starts(
        &self,
        cache: &mut DenseCache,
        text: &[u8],
        region: Range<usize>,
        out: &mut Vec<(usize, usize)>,
        work: &mut u64,
    ) -> Result<(), MatchError> {
        let cache = cache.0.get_or_insert_with(|| self.dfa.create_cache());
        let first = out.len();
        if region.len() >= LANES * MIN_LANE {
            match self.walk::<LANES>(cache, text, region.clone(), out, work) {
                Err(Walked::CacheCleared) => out.truncate(first),
                Err(Walked::Failed(error)) => return Err(error),
                Ok(()) => return Ok(()),
            }
        }
        self.walk::<1>(cache, text, region, out, work)
            .map_err(|walked| match walked {
                Walked::Failed(error) => error,
                // One walk's state is kept across a clear by the cache itself.
                Walked::CacheCleared => unreachable!("one walk is never stopped by a clear"),
            })
    }

    /// [`DenseFilter::starts`] by `N` walks, each over an `N`th of `region`, stepped in turn:
    /// each step waits for the load of the state before, and the walks' loads overlap. More
    /// than one walk stops if the cache is cleared, which makes the other walks' states
    /// meaningless.
    fn walk<const N: usize>(
        &self,
        cache: &mut Cache,
        text: &[u8],
        region: Range<usize>,
        out: &mut Vec<(usize, usize)>,
        work: &mut u64,
    ) -> Result<(), Walked> {
        let clears = cache.clear_count();
        let lane_len = region.len().div_ceil(N);
        let mut walks = [Walk {
            state: LazyStateID::default(),
            at: 0,
            start: 0,
            report_end: 0,
        }; N];
        let mut total: usize = 0;
        for (i, walk) in walks.iter_mut().enumerate() {
            let start = region.start.saturating_add(i.saturating_mul(lane_len));
            let report_end = start.saturating_add(lane_len).min(region.end);
            let end = report_end
                .saturating_add(self.reach)
                .min(text.len())
                .max(start);
            let input = Input::new(text).range(start..end).anchored(Anchored::No);
            walk.state = self
                .dfa
                .start_state_reverse(cache, &input)
                .map_err(Walked::Failed)?;
            *walk = Walk {
                state: walk.state,
                at: end,
                start: start.min(end),
                report_end,
            };
            total = total.saturating_add(end - walk.start);
        }
        *work = work.saturating_add(total as u64);
        // Whether a clear made the other walks' states meaningless: asked after every step
        // that may add a state, before another walk's state is used.
        let cleared = |cache: &Cache| N > 1 && cache.clear_count() != clears;
        if cleared(cache) {
            return Err(Walked::CacheCleared);
        }
        let mut walked: usize = 0;
        cache.search_start(0);
        let result = (|| {
            // All walks at once while none has ended and every state is an ordinary one.
            'together: while walks.iter().all(|w| w.at > w.start) {
                let mut next = [LazyStateID::default(); N];
                let mut careful = false;
                for (walk, next) in walks.iter().zip(&mut next) {
                    careful = walk.state.is_tagged();
                    if careful {
                        break;
                    }
                    *next = self
                        .dfa
                        .next_state_untagged(cache, walk.state, text[walk.at - 1]);
                    careful = next.is_tagged();
                    if careful {
                        break;
                    }
                }
                if careful {
                    // A match, or a state not made yet: one byte each the careful way.
                    for walk in &mut walks {
                        cache.search_update(walked);
                        self.step(cache, walk, text, out)?;
                        walked = walked.saturating_add(1);
                        if cleared(cache) {
                            return Err(Walked::CacheCleared);
                        }
                    }
                    continue 'together;
                }
                for (walk, next) in walks.iter_mut().zip(next) {
                    walk.state = next;
                    walk.at -= 1;
                }
                walked = walked.saturating_add(N);
            }
            // Each walk to its end.
            for walk in &mut walks {
                while walk.at > walk.start {
                    if !walk.state.is_tagged() {
                        let next =
                            self.dfa
                                .next_state_untagged(cache, walk.state, text[walk.at - 1]);
                        if !next.is_tagged() {
                            walk.state = next;
                            walk.at -= 1;
                            walked = walked.saturating_add(1);
                            continue;
                        }
                    }
                    cache.search_update(walked);
                    self.step(cache, walk, text, out)?;
                    walked = walked.saturating_add(1);
                    if cleared(cache) {
                        return Err(Walked::CacheCleared);
                    }
                }
                // The look-behind of a match at the walk's start: the byte before it, or none.
                let last = match walk.start.checked_sub(1) {
                    Some(before) => self.dfa.next_state(cache, walk.state, text[before]),
                    None => self.dfa.next_eoi_state(cache, walk.state),
                }
                .map_err(|_| Walked::Failed(MatchError::gave_up(walk.start)))?;
                if cleared(cache) {
                    return Err(Walked::CacheCleared);
                }
                if last.is_match() {
                    self.report(cache, last, walk.start, walk.report_end, out);
                }
            }
            Ok(())
        })();
        cache.search_finish(walked);
        result
    }

    /// Steps `walk` back over one byte, whatever its state, and reports the match that begins
    /// after the byte, if there is one. A state is a match state one byte late: after the
    /// byte before the match's start.
    fn step(
        &self,
        cache: &mut Cache,
        walk: &mut Walk,
        text: &[u8],
        out: &mut Vec<(usize, usize)>,
    ) -> Result<(), Walked> {
        let at = walk.at - 1;
        let byte = text[at];
        walk.state = self
            .dfa
            .next_state(cache, walk.state, byte)
            .map_err(|_| Walked::Failed(MatchError::gave_up(at)))?;
        walk.at = at;
        if walk.state.is_match() {
            self.report(cache, walk.state, at + 1, walk.report_end, out);
        } else if walk.state.is_quit() {
            return Err(Walked::Failed(MatchError::quit(byte, at)));
        }
        Ok(())
    }

    /// Appends to `out` the rule of each pattern whose match begins at `start`, as match state
    /// `state` says, if `start` is before `region_end`.
    fn report(
        &self,
        cache: &Cache,
        state: LazyStateID,
        start: usize,
        region_end: usize,
        out: &mut Vec<(usize, usize)>,
    ) {
        if start >= region_end {
            return;
        }
        for i in 0..self.dfa.match_len(cache, state) {
            let pattern = self.dfa.match_pattern(cache, state, i);
            out.push((start, self.rules[pattern.as_usize()]));
        }
    }
}

/// Which hits of a rule left out of the automaton (one whose matches may be cut at its length)
/// can give a match, told without running the rule: a match ends with one of the rule's
/// suffixes, so one must occur within the rule's reach; a match cut at the rule's length is
/// the rule's automaton alive over all of it, so every byte there is one the pattern can
/// read. A hit that passes neither test gives nothing, and is not confirmed.
#[derive(Debug)]
pub(crate) struct TruncationScreen {
    /// The rule's longest match, in characters.
    max_len: usize,
    /// The bytes a match can hold.
    alphabet: Box<[bool; 256]>,
    /// A search for each literal every match ends with, if there are few.
    suffixes: Option<Vec<memchr::memmem::Finder<'static>>>,
}

/// How far [`TruncationScreen::may_match`] asks whether a rule's automaton is still alive: a
/// header flood dies within its header, a cut match is alive over its whole length.
const ALIVE_PROBE: usize = 64;

/// What a [`TruncationScreen`] has learnt of one text so far; hits come in order of position,
/// so each byte is read about once per screen.
#[derive(Debug, Default)]
pub(crate) struct ScreenState {
    /// A byte outside the alphabet at or after the last hit, if one was found.
    foreign_at: Option<usize>,
    /// Bytes before this (from the last hit) are all in the alphabet.
    clean_to: usize,
    /// For each suffix, where it next occurs at or after the last hit (`usize::MAX`: nowhere),
    /// once looked for.
    suffix_at: Vec<Option<usize>>,
}

impl TruncationScreen {
    /// The screen for a rule with these properties.
    pub(crate) fn new(
        max_len: usize,
        alphabet: Box<[bool; 256]>,
        suffixes: Option<&[Vec<u8>]>,
    ) -> TruncationScreen {
        TruncationScreen {
            max_len,
            alphabet,
            suffixes: suffixes.map(|s| {
                s.iter()
                    .map(|s| memchr::memmem::Finder::new(s).into_owned())
                    .collect()
            }),
        }
    }

    /// Whether the rule's hit at `start` of `text` may give a match (see the type's docs).
    /// `probe(start, end)` says whether the rule's automaton, run from `start`, saw a match
    /// or is still alive at `end`, a few dozen bytes on: a cheap test the screen cannot make
    /// itself, asked last, and only where the suffixes do not decide (a header flood dies
    /// within its header). `state` must be fresh for each text, and hits must come in
    /// increasing order.
    pub(crate) fn may_match(
        &self,
        text: &[u8],
        start: usize,
        state: &mut ScreenState,
        probe: impl FnOnce(usize, usize) -> bool,
    ) -> bool {
        let reach = start.saturating_add(self.max_len);
        let end = reach.min(text.len());
        if self.suffixes.is_some() {
            if self.may_end(text, start, end, state) {
                return true;
            }
            // No whole match: only one cut at the rule's length.
            if reach > text.len() || !self.clean(text, start, reach, state) {
                return false;
            }
        }
        probe(start, start.saturating_add(ALIVE_PROBE).min(end))
    }

    /// Whether a suffix occurs whole within `text[start..end]`; true if the rule has too many
    /// suffixes to tell.
    fn may_end(&self, text: &[u8], start: usize, end: usize, state: &mut ScreenState) -> bool {
        let Some(finders) = &self.suffixes else {
            return true;
        };
        state.suffix_at.resize(finders.len(), None);
        finders
            .iter()
            .zip(&mut state.suffix_at)
            .any(|(finder, known)| {
                let at = match *known {
                    Some(at) if at >= start => at,
                    _ => text
                        .get(start..)
                        .and_then(|rest| finder.find(rest))
                        .map_or(usize::MAX, |found| start.saturating_add(found)),
                };
                *known = Some(at);
                at.saturating_add(finder.needle().len()) <= end
            })
    }

    /// Whether every byte of `text[start..end]` is in the alphabet.
    fn clean(&self, text: &[u8], start: usize, end: usize, state: &mut ScreenState) -> bool {
        if let Some(foreign) = state.foreign_at
            && foreign >= start
        {
            return foreign >= end;
        }
        let mut at = state.clean_to.max(start);
        while at < end {
            if !self.alphabet[usize::from(text[at])] {
                state.foreign_at = Some(at);
                return false;
            }
            at += 1;
        }
        state.clean_to = at;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::compile;

    /// The built-in rules that go to the filter as patterns of their own.
    fn filter(capacity: usize) -> DenseFilter {
        let set = crate::RuleSet::builtin().unwrap();
        let compiled: Vec<_> = set.rules().iter().map(|r| compile(r).unwrap()).collect();
        let rules: Vec<(usize, &Hir, usize)> = compiled
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.truncatable)
            .map(|(i, c)| (i, &c.loosened, c.max_len))
            .collect();
        DenseFilter::with_cache(&rules, capacity, false)
            .unwrap()
            .unwrap()
    }

    /// A cache cleared while four walks are under way stales the others' states: the walks
    /// must stop and the region be read again by one (this panicked on a Debian image, reading
    /// a stale state's transitions past the end of the cleared cache's table).
    #[test]
    fn a_cache_cleared_under_several_walks_gives_the_same_starts() {
        // Text that makes many states: the rules' keywords, separators and token characters.
        let pieces: [&[u8]; 12] = [
            b"AKIA",
            b"password",
            b"secret",
            b"token",
            b"=",
            b":",
            b"\"",
            b" ",
            b"https://",
            b"u:p@h",
            b"ghp_",
            b"x9",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut text = Vec::new();
        while text.len() < 4 * MIN_LANE + 4096 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            text.extend_from_slice(pieces[(state % 12) as usize]);
            text.push(b"AZaz09+/_-."[(state >> 8) as usize % 11]);
        }
        let region = 0..text.len();
        let starts = |filter: &DenseFilter| {
            let mut cache = DenseCache::default();
            let mut out = Vec::new();
            filter
                .starts(&mut cache, &text, region.clone(), &mut out, &mut 0)
                .unwrap();
            out.sort_unstable();
            (out, cache.0.map_or(0, |c| c.clear_count()))
        };
        let (roomy, roomy_clears) = starts(&filter(CACHE_CAPACITY * 64));
        let (small, small_clears) = starts(&filter(0));
        assert_eq!(roomy_clears, 0, "the roomy cache was never cleared");
        assert!(small_clears > 0, "the small cache was cleared");
        assert!(!roomy.is_empty());
        assert_eq!(small, roomy);
    }
}
