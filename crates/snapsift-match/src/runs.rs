//! Confirming many hits of one rule without reading the same bytes again for each.
//!
//! # Why
//!
//! A rule's regex is run anchored at each hit of its anchors, over at most the rule's
//! `max_len`. Where hits are dense and the regex reads far before it gives up, that costs
//! hits × length: ten megabytes of `-----BEGIN RSA PRIVATE KEY-----` lines without a footer
//! made every line's regex read 32 KiB, and the scan ran 20,000 times slower than on random
//! bytes. A disk image is written by whoever owned the machine, so its bytes may be chosen
//! for exactly that.
//!
//! # How
//!
//! Each hit's regex runs as a lazy DFA (`regex-automata`'s hybrid DFA), stepped here byte by
//! byte, and the states of the last run are kept, by haystack position, as a *trace*. A DFA's
//! future depends only on its state and the bytes ahead, so when a later run of the same rule,
//! started at a later hit, is in the state the trace holds at the same position, the two runs
//! are one from there on: the later run takes the trace's outcome (the matches it saw from
//! there, where it died, or where its window ended, from which it goes on alone) without
//! reading those bytes again. Two runs of a header, a body class and a footer are in the same
//! state once the later one has read its header, so each hit costs about its header, not the
//! rule's reach.
//!
//! A DFA with a counted repetition (`[A-Za-z0-9+/]{100,4000}`) is in a different state at every
//! count, so runs from two hits in one long run of the class never meet. For those the matcher
//! first runs a *relaxed* automaton, the rule's pattern with every repetition made `*`, with
//! all-matches semantics: it matches everything the rule matches and more, so where it finds
//! nothing the rule finds nothing, and the furthest end it finds bounds the end of the rule's
//! match. It has no counts, so its runs meet at once. A hit whose bound lies within a match of
//! the same rule found at an earlier hit can only give a match inside that one, which the
//! matcher drops anyway (see `Matcher::find_in`), so the rule's own regex runs only at the
//! other hits, and only up to the bound.
//!
//! Where merging is not possible (no trace yet, a trace from an earlier text, a cleared lazy
//! DFA cache), a run simply reads on alone, as the plain search does: the trace only ever
//! saves work, it never changes a result.

use regex_automata::hybrid::LazyStateID;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::{Anchored, Input, MatchError};

/// A lazy DFA's cache with the trace of its last run over the current text.
#[derive(Debug)]
pub(crate) struct TracedCache {
    cache: Cache,
    trace: Trace,
    /// States of the run under way, before it merges with or replaces the trace.
    pending: Vec<LazyStateID>,
    /// Whether the last run reached the end of its window alive (see
    /// [`TracedCache::reached_end`]).
    reached_end: bool,
}

/// The states of one finished run, by haystack position.
#[derive(Debug)]
struct Trace {
    /// Whether the trace holds a run over the current text (see [`TracedCache::forget`]).
    valid: bool,
    /// `ring[p & mask]` is the state before the byte at position `p`, for `p` in
    /// `start..=end`. Its length is a power of two above the longest window, so these never
    /// collide (and a mask is much cheaper than a division at every byte).
    ring: Vec<LazyStateID>,
    /// `ring.len() - 1`.
    mask: usize,
    /// The position the run started at.
    start: usize,
    /// The last position whose state is held: where the run died (the byte there led to the
    /// dead state) or where its window ended.
    end: usize,
    /// Whether the run died at `end` rather than reaching the end of its window.
    dead: bool,
    /// The end of the last match the run saw.
    last_match: Option<usize>,
    /// The cache's clear count when the run was made: a cleared cache renumbers its states.
    clears: usize,
}

impl Trace {
    fn state(&self, position: usize) -> LazyStateID {
        self.ring[position & self.mask]
    }

    fn set(&mut self, position: usize, state: LazyStateID) {
        self.ring[position & self.mask] = state;
    }
}

impl TracedCache {
    /// A cache for `dfa`, for windows of at most `window` bytes.
    pub(crate) fn new(dfa: &DFA, window: usize) -> TracedCache {
        TracedCache {
            cache: dfa.create_cache(),
            trace: Trace {
                valid: false,
                ring: Vec::new(),
                mask: 0,
                start: 0,
                end: 0,
                dead: false,
                last_match: None,
                clears: 0,
            },
            pending: Vec::with_capacity(window.saturating_add(1).min(4096)),
            reached_end: false,
        }
    }

    /// Whether the last [`TracedCache::run`] that returned `Ok` read to the end of its window
    /// without its automaton dying: a match could still go on past the window.
    pub(crate) fn reached_end(&self) -> bool {
        self.reached_end
    }

    /// Forgets the trace: the next runs are over another text.
    pub(crate) fn forget(&mut self) {
        self.trace.valid = false;
    }

    /// Runs `dfa` anchored at `start` over `text[start..end]` and returns the end of the last
    /// match it sees before it dies or reaches `end`: what `regex-automata`'s forward search
    /// returns, look-around at both ends included. For a leftmost-first DFA that is the end of
    /// the leftmost-first match; for an all-matches DFA, the furthest end of any match.
    /// `window` is the longest `end - start` any run of this cache is given. Adds the number
    /// of bytes it stepped through to `work`.
    pub(crate) fn run(
        &mut self,
        dfa: &DFA,
        text: &[u8],
        start: usize,
        end: usize,
        window: usize,
        work: &mut u64,
    ) -> Result<Option<usize>, MatchError> {
        let input = Input::new(text).range(start..end).anchored(Anchored::Yes);
        let mut state = dfa.start_state_forward(&mut self.cache, &input)?;
        let clears = self.cache.clear_count();
        let ring_len = window.saturating_add(1).next_power_of_two();
        if self.trace.ring.len() != ring_len {
            self.trace.ring = vec![state; ring_len];
            self.trace.mask = ring_len.saturating_sub(1);
            self.trace.valid = false;
        }
        let trace = &self.trace;
        // The trace's future is ours only if it started no later than we do (so it holds our
        // positions) and ended within our window (so all it saw, we would see).
        let mergeable = trace.valid
            && trace.clears == clears
            && trace.start <= start
            && (trace.end < end || (!trace.dead && trace.end == end));
        // Past the trace's end no merge is possible; without a trace, none at all.
        let merge_until = mergeable.then_some(trace.end);
        let mut pending = std::mem::take(&mut self.pending);
        pending.clear();
        let mut last = None;
        let mut at = start;
        let mut steps: u64 = 0;
        let result = loop {
            if merge_until.is_some_and(|until| at <= until)
                && self.trace.state(at) == state
                && self.cache.clear_count() == clears
            {
                break Merge::At(at);
            }
            pending.push(state);
            if at >= end {
                match eoi(dfa, &mut self.cache, text, end, state) {
                    Ok(found) => last = found.or(last),
                    Err(e) => break Merge::Failed(e),
                }
                break Merge::Ended;
            }
            state = match dfa.next_state(&mut self.cache, state, text[at]) {
                Ok(next) => next,
                Err(_) => break Merge::Failed(MatchError::gave_up(at)),
            };
            steps = steps.saturating_add(1);
            if state.is_tagged() {
                if state.is_match() {
                    last = Some(at);
                } else if state.is_dead() {
                    break Merge::Ended;
                } else if state.is_quit() {
                    break Merge::Failed(MatchError::quit(text[at], at));
                }
            }
            at = at.saturating_add(1);
        };
        *work = work.saturating_add(steps);
        self.pending = pending;
        self.reached_end = !state.is_dead();
        match result {
            Merge::At(at) => return self.merge(dfa, text, start, at, end, last, work),
            Merge::Failed(e) => {
                self.trace.valid = false;
                return Err(e);
            }
            Merge::Ended => {}
        }
        // Keep this run as the trace if it reached further than the one held.
        let reaches_further = !self.trace.valid || at > self.trace.end;
        if reaches_further && self.cache.clear_count() == clears {
            for (offset, &s) in self.pending.iter().enumerate() {
                self.trace.set(start.saturating_add(offset), s);
            }
            self.trace.valid = true;
            self.trace.start = start;
            self.trace.end = at;
            self.trace.dead = state.is_dead();
            self.trace.last_match = last;
            self.trace.clears = clears;
        } else if self.cache.clear_count() != clears {
            self.trace.valid = false;
        }
        Ok(last)
    }

    /// [`TracedCache::run`] without the trace: the run neither reads nor keeps one (nor makes
    /// the trace's buffer, a few hundred KiB for a long rule), for hits too sparse for sharing
    /// to pay. Sets [`TracedCache::reached_end`] alike.
    pub(crate) fn run_alone(
        &mut self,
        dfa: &DFA,
        text: &[u8],
        start: usize,
        end: usize,
        work: &mut u64,
    ) -> Result<Option<usize>, MatchError> {
        let input = Input::new(text).range(start..end).anchored(Anchored::Yes);
        let mut state = dfa.start_state_forward(&mut self.cache, &input)?;
        let mut last = None;
        let mut at = start;
        while at < end {
            state = dfa
                .next_state(&mut self.cache, state, text[at])
                .map_err(|_| MatchError::gave_up(at))?;
            *work = work.saturating_add(1);
            if state.is_tagged() {
                if state.is_match() {
                    last = Some(at);
                } else if state.is_dead() {
                    break;
                } else if state.is_quit() {
                    return Err(MatchError::quit(text[at], at));
                }
            }
            at = at.saturating_add(1);
        }
        self.reached_end = !state.is_dead();
        if self.reached_end {
            last = eoi(dfa, &mut self.cache, text, end, state)?.or(last);
        }
        Ok(last)
    }

    /// The run started at `start` is at `at` in the state the trace holds there: takes the
    /// trace's outcome, goes on alone past the trace's window if the trace did not die, and
    /// makes the result the trace. `last` is the last match the run saw before `at`.
    #[allow(clippy::too_many_arguments)]
    fn merge(
        &mut self,
        dfa: &DFA,
        text: &[u8],
        start: usize,
        at: usize,
        end: usize,
        mut last: Option<usize>,
        work: &mut u64,
    ) -> Result<Option<usize>, MatchError> {
        let clears = self.trace.clears;
        // Matches the trace saw at or after `at` are on the shared path.
        if let Some(m) = self.trace.last_match
            && m >= at
        {
            last = Some(m);
        }
        // The trace now starts where this run did: its states up to `at`, the trace's after.
        for (offset, &s) in self.pending.iter().enumerate() {
            self.trace.set(start.saturating_add(offset), s);
        }
        self.trace.start = start;
        if !self.trace.dead {
            // The trace's window ended at trace.end; this one goes on.
            let mut position = self.trace.end;
            let mut state = self.trace.state(position);
            loop {
                if position >= end {
                    last = eoi(dfa, &mut self.cache, text, end, state)?.or(last);
                    break;
                }
                state = dfa
                    .next_state(&mut self.cache, state, text[position])
                    .map_err(|_| MatchError::gave_up(position))?;
                *work = work.saturating_add(1);
                if state.is_match() {
                    last = Some(position);
                } else if state.is_dead() {
                    break;
                } else if state.is_quit() {
                    return Err(MatchError::quit(text[position], position));
                }
                position = position.saturating_add(1);
                self.trace.set(position, state);
            }
            self.trace.end = position;
            self.trace.dead = state.is_dead();
        }
        // A trace that died did so before this run's end (else it would not be mergeable).
        self.reached_end = !self.trace.dead;
        self.trace.last_match = last;
        if self.cache.clear_count() != clears {
            self.trace.valid = false;
        }
        Ok(last)
    }
}

/// How a run's own steps ended.
enum Merge {
    /// It reached the state the trace holds at this position.
    At(usize),
    /// It died or reached the end of its window.
    Ended,
    /// The lazy DFA gave up.
    Failed(MatchError),
}

/// The step past the end of a window at `end`: the byte there (or the end of the text) is
/// read only to decide look-ahead assertions, as `regex-automata`'s own search does. Returns
/// `Some(end)` if a match ends at `end`.
fn eoi(
    dfa: &DFA,
    cache: &mut Cache,
    text: &[u8],
    end: usize,
    state: LazyStateID,
) -> Result<Option<usize>, MatchError> {
    let next = match text.get(end) {
        Some(&byte) => dfa.next_state(cache, state, byte),
        None => dfa.next_eoi_state(cache, state),
    }
    .map_err(|_| MatchError::gave_up(end))?;
    Ok(next.is_match().then_some(end))
}
