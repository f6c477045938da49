//! [`Matcher`]: every rule's anchors in one automaton, each hit confirmed by the rule's regex.

use std::borrow::Cow;
use std::ops::Range;

use aho_corasick::{AhoCorasick, MatchKind, packed};
use regex_automata::util::captures::Captures;
use regex_automata::{Anchored, Input, meta};

use crate::compile::{CompiledRule, compile};
use crate::encoding::narrow;
use crate::heads::{Anchor, Heads};
use crate::teddy16::Teddy16;
use crate::utf16_runs::Utf16Runs;
use crate::zero::NonZeroSegments;
use crate::{Encoding, Rule, RuleError, RuleSet};

/// One match of one rule, as byte offsets into the haystack given to [`Matcher::find_in`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Match {
    /// Index of the rule in [`Matcher::rules`].
    pub rule: usize,
    /// Offset of the first byte of the match.
    pub start: usize,
    /// Offset one past the last byte of the match.
    pub end: usize,
    /// How the matched text is written.
    pub encoding: Encoding,
    /// Offset of the first byte of the secret: the rule's `secret` group, else the match.
    pub secret_start: usize,
    /// Offset one past the last byte of the secret.
    pub secret_end: usize,
}

impl Match {
    /// Where the secret lies in the match's text ([`Matcher::text_of`]).
    pub fn secret_in_text(&self) -> Range<usize> {
        let unit = self.encoding.unit_len();
        let from = self.secret_start.saturating_sub(self.start) / unit;
        let to = self.secret_end.saturating_sub(self.start) / unit;
        from..to
    }
}

/// All rules of a [`RuleSet`], compiled once and shared by every scanning thread.
///
/// A `Matcher` is immutable and `Send + Sync`; each thread brings its own [`Scratch`].
#[derive(Debug)]
pub struct Matcher {
    rules: Vec<Rule>,
    compiled: Vec<CompiledRule>,
    /// What the anchor search looks for, and the rules to confirm at each head's hits.
    heads: Heads,
    /// The anchor search.
    head_search: HeadSearch,
    /// For each rule, the rules whose matches around one of its matches drop it.
    superseded_by: Vec<Vec<usize>>,
    /// The longest head, in bytes.
    max_head_len: usize,
    /// The longest match of any rule, in characters.
    max_match_len: usize,
    /// The shortest match any rule can make, in characters: shorter UTF-16LE text is skipped.
    min_match_len: usize,
}

/// How the anchor search finds the heads; see [`Matcher::with_anchor_search`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnchorSearch {
    /// The fastest search this CPU can run: every head in one pass of a 16-bucket Teddy
    /// where the CPU has AVX2, else [`AnchorSearch::Portable`].
    #[default]
    Fastest,
    /// `aho-corasick`'s searcher (Teddy where the CPU has SSSE3 or NEON, else an automaton),
    /// in passes of at most 32 heads: on every CPU, and the reference the fast one is
    /// compared with in tests.
    Portable,
}

/// The anchor search: reports every position where a head occurs (see [`Heads`]).
#[derive(Debug)]
enum HeadSearch {
    /// Every head in one pass.
    Teddy16(Box<Teddy16>),
    /// One pass per group of heads.
    Passes(Vec<HeadPass>),
}

impl HeadSearch {
    fn new(heads: &Heads, kind: AnchorSearch) -> Result<HeadSearch, RuleError> {
        if kind == AnchorSearch::Fastest
            && let Some(teddy) = Teddy16::new(&heads.texts)
        {
            return Ok(HeadSearch::Teddy16(Box::new(teddy)));
        }
        let passes = heads
            .passes()
            .into_iter()
            .map(|indices| {
                let texts: Vec<&[u8]> = indices.iter().map(|&i| &heads.texts[i][..]).collect();
                Ok(HeadPass {
                    searcher: HeadSearcher::new(&texts)?,
                    heads: indices,
                })
            })
            .collect::<Result<Vec<_>, RuleError>>()?;
        Ok(HeadSearch::Passes(passes))
    }

    /// How many passes over the bytes a search makes.
    fn passes(&self) -> usize {
        match self {
            HeadSearch::Teddy16(_) => 1,
            HeadSearch::Passes(passes) => passes.len(),
        }
    }

    /// Calls `found(start, head)` for every head that lies within `text[range]` and starts
    /// before `stop`: in order of start within each pass.
    fn for_each(
        &self,
        text: &[u8],
        range: Range<usize>,
        stop: usize,
        mut found: impl FnMut(usize, usize),
    ) {
        match self {
            HeadSearch::Teddy16(teddy) => teddy.for_each(text, range, stop, found),
            HeadSearch::Passes(passes) => {
                for pass in passes {
                    let mut at = range.start;
                    while let Some((start, pattern)) = pass.searcher.find(text, at..range.end) {
                        if start >= stop {
                            break;
                        }
                        found(start, pass.heads[pattern]);
                        // Not the hit's end: another head may start inside this one.
                        at = start.saturating_add(1);
                    }
                }
            }
        }
    }
}

/// One pass of the portable anchor search: a searcher over some of the heads.
#[derive(Debug)]
struct HeadPass {
    searcher: HeadSearcher,
    /// For each of the searcher's patterns, the index of the head in [`Heads::texts`].
    heads: Vec<usize>,
}

/// A multi-literal searcher: Teddy where the CPU has it (SSSE3/AVX2 or NEON), else an
/// Aho-Corasick automaton. Both report the leftmost occurrence; heads are prefix-free, so
/// at most one head matches at a position and the choice between them never arises.
#[derive(Debug)]
enum HeadSearcher {
    Teddy(packed::Searcher),
    Automaton(AhoCorasick),
}

impl HeadSearcher {
    fn new(texts: &[&[u8]]) -> Result<HeadSearcher, RuleError> {
        let teddy = packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(texts)
            .build();
        match teddy {
            Some(searcher) => Ok(HeadSearcher::Teddy(searcher)),
            None => AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostFirst)
                .build(texts)
                .map(HeadSearcher::Automaton)
                .map_err(|e| RuleError::Automaton(e.to_string())),
        }
    }

    /// The leftmost head in `text[range]`: its start and pattern index.
    fn find(&self, text: &[u8], range: Range<usize>) -> Option<(usize, usize)> {
        let found = match self {
            HeadSearcher::Teddy(s) => s.find_in(text, aho_corasick::Span::from(range)),
            HeadSearcher::Automaton(a) => a.find(aho_corasick::Input::new(text).span(range)),
        };
        found.map(|m| (m.start(), m.pattern().as_usize()))
    }
}

/// Where the text being searched lies in the haystack.
#[derive(Clone, Copy, Debug)]
enum Place {
    /// The haystack itself.
    Bytes,
    /// UTF-16LE text narrowed to one byte per character (see [`narrow`]); its character `i`
    /// is the code unit at haystack offset `start + 2 * i`.
    Narrowed { start: usize },
}

impl Place {
    fn encoding(self) -> Encoding {
        match self {
            Place::Bytes => Encoding::Utf8,
            Place::Narrowed { .. } => Encoding::Utf16Le,
        }
    }

    /// The haystack offset of offset `i` of the searched text.
    fn offset(self, i: usize) -> usize {
        match self {
            Place::Bytes => i,
            Place::Narrowed { start } => start.saturating_add(i.saturating_mul(2)),
        }
    }
}

/// Per-thread working memory for [`Matcher::find_in`].
#[derive(Debug)]
pub struct Scratch {
    caches: Vec<meta::Cache>,
    captures: Vec<Captures>,
    candidates: Vec<Match>,
    narrowed: Vec<u8>,
}

impl Matcher {
    /// Compiles every rule of `set`, with the fastest anchor search this CPU can run.
    pub fn new(set: &RuleSet) -> Result<Matcher, RuleError> {
        Matcher::with_anchor_search(set, AnchorSearch::Fastest)
    }

    /// Compiles every rule of `set`, with the given anchor search. Every choice finds the same
    /// matches; they differ only in speed.
    pub fn with_anchor_search(set: &RuleSet, kind: AnchorSearch) -> Result<Matcher, RuleError> {
        let rules = set.rules().to_vec();
        let compiled = rules.iter().map(compile).collect::<Result<Vec<_>, _>>()?;
        let anchors: Vec<Anchor> = compiled
            .iter()
            .enumerate()
            .flat_map(|(rule, c)| {
                c.anchors.iter().map(move |bytes| Anchor {
                    bytes: bytes.clone(),
                    rule,
                })
            })
            .collect();
        let heads = Heads::new(&anchors);
        let head_search = HeadSearch::new(&heads, kind)?;
        let max_head_len = heads.texts.iter().map(Vec::len).max().unwrap_or(0);
        let max_match_len = compiled.iter().map(|c| c.max_len).max().unwrap_or(0);
        let min_match_len = compiled.iter().map(|c| c.min_len).min().unwrap_or(0);
        let superseded_by = rules
            .iter()
            .map(|inner| {
                (0..rules.len())
                    .filter(|&outer| rules[outer].supersedes.contains(&inner.id))
                    .collect()
            })
            .collect();
        Ok(Matcher {
            rules,
            compiled,
            heads,
            head_search,
            superseded_by,
            max_head_len,
            max_match_len,
            min_match_len,
        })
    }

    /// The rules, indexed by [`Match::rule`].
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The longest match any rule can report, in bytes of the haystack (a UTF-16LE match
    /// takes two bytes per character).
    pub fn max_match_len(&self) -> usize {
        self.max_match_len.saturating_mul(2)
    }

    /// How many bytes of context [`Matcher::find_in`] needs on each side of its span:
    /// the longest match, plus one character for look-around assertions such as `\b`.
    pub fn context_len(&self) -> usize {
        self.max_match_len().saturating_add(2)
    }

    /// How many literals the anchor search looks for (see the crate docs).
    pub fn head_count(&self) -> usize {
        self.heads.texts.len()
    }

    /// How many SIMD passes over each chunk's bytes the anchor search makes.
    pub fn head_passes(&self) -> usize {
        self.head_search.passes()
    }

    /// Which anchor search runs: `"teddy16"` (one AVX2 pass with 16 buckets) or
    /// `"aho-corasick"` (passes of `aho-corasick`'s searcher).
    pub fn anchor_search_name(&self) -> &'static str {
        match self.head_search {
            HeadSearch::Teddy16(_) => "teddy16",
            HeadSearch::Passes(_) => "aho-corasick",
        }
    }

    /// Fresh working memory for one thread.
    pub fn scratch(&self) -> Scratch {
        Scratch {
            caches: self
                .compiled
                .iter()
                .map(|c| c.regex.create_cache())
                .collect(),
            captures: self
                .compiled
                .iter()
                .map(|c| c.regex.create_captures())
                .collect(),
            candidates: Vec::new(),
            narrowed: Vec::new(),
        }
    }

    /// The text of match `m` of `haystack`: the matched bytes, or for a UTF-16LE match its
    /// characters one byte each.
    pub fn text_of<'h>(&self, haystack: &'h [u8], m: &Match) -> Cow<'h, [u8]> {
        let bytes = &haystack[m.start..m.end];
        match m.encoding {
            Encoding::Utf8 => Cow::Borrowed(bytes),
            Encoding::Utf16Le => {
                let mut text = Vec::with_capacity(bytes.len() / 2);
                narrow(bytes, usize::MAX, &mut text);
                Cow::Owned(text)
            }
        }
    }

    /// Appends to `out` every match that starts inside `span`, in order of start offset
    /// (then rule).
    ///
    /// # The overlap contract
    ///
    /// The result depends only on the bytes of the whole input the haystack is cut from, not
    /// on where it was cut, provided the haystack holds [`Matcher::context_len`] bytes before
    /// `span` and after it (or reaches the start or end of the whole input on that side).
    /// Chunked scanning relies on this: chunks whose spans tile the input, each with that much
    /// context around it, report every match of the whole input exactly once.
    ///
    /// It holds because:
    /// * every match starts with a head and is confirmed by the rule's regex anchored at that
    ///   position, over at most the rule's `max_len` characters (twice that many bytes in
    ///   UTF-16LE), with one character beyond either end visible to look-around: a match is a
    ///   function of its start and the bytes near it. A UTF-16LE match lies in a run of
    ///   UTF-16LE text at least as long as the shortest match, which is found from any whole
    ///   aligned block of it (see `utf16_runs`), so from the bytes within that length after
    ///   the match's start;
    /// * of two matches of one rule where one contains the other, only the outer one is a
    ///   finding (`jdbc:mysql://...` is not also reported as `mysql://...`), and a match inside
    ///   a match of a rule that `supersedes` its rule is not a finding either. An outer match
    ///   starts at most [`Matcher::max_match_len`] bytes before the inner one, inside the
    ///   context, so this choice is made the same way in every chunk.
    ///
    /// Runs of all-zero 4 KiB blocks are skipped, which loses nothing: no head contains a NUL
    /// byte, and UTF-16LE text holds no NUL character.
    ///
    /// # Panics
    ///
    /// Panics if `span` is not within `haystack`.
    pub fn find_in(
        &self,
        haystack: &[u8],
        span: Range<usize>,
        scratch: &mut Scratch,
        out: &mut Vec<Match>,
    ) {
        assert!(
            span.start <= span.end && span.end <= haystack.len(),
            "span {span:?} is outside a haystack of {} bytes",
            haystack.len()
        );
        if span.is_empty() || self.heads.texts.is_empty() {
            return;
        }
        // Matches starting in the context before the span are needed to decide containment.
        let first_start = span.start.saturating_sub(self.max_match_len());
        // A head starting before span.end may end up to max_head_len - 1 bytes after it; a
        // UTF-16LE match starting there has a whole aligned block within 2 * min_match_len.
        let lookahead = self
            .max_head_len
            .saturating_sub(1)
            .max(self.min_match_len.saturating_mul(2));
        let search_end = span.end.saturating_add(lookahead).min(haystack.len());
        scratch.candidates.clear();
        for segment in NonZeroSegments::new(haystack, first_start..search_end) {
            self.search_text(haystack, segment.clone(), span.end, Place::Bytes, scratch);
            for run in Utf16Runs::new(haystack, segment, self.min_match_len) {
                self.search_utf16_run(haystack, run, first_start..span.end, scratch);
            }
        }
        self.keep_outermost(span, scratch, out);
    }

    /// Searches the UTF-16LE text of `run` for matches starting in `starts`, read one byte per
    /// character.
    fn search_utf16_run(
        &self,
        haystack: &[u8],
        run: Range<usize>,
        starts: Range<usize>,
        scratch: &mut Scratch,
    ) {
        // Matches start at or after starts.start; keep one character before it for look-behind.
        let mut start = run.start;
        let keep_from = starts.start.saturating_sub(2);
        if start < keep_from {
            start = start.saturating_add((keep_from - start).div_ceil(2).saturating_mul(2));
        }
        if start >= run.end || start >= starts.end {
            return;
        }
        let mut narrowed = std::mem::take(&mut scratch.narrowed);
        narrowed.clear();
        narrow(&haystack[start..run.end], usize::MAX, &mut narrowed);
        let first = starts.start.saturating_sub(start).div_ceil(2);
        let stop = (starts.end - start).div_ceil(2);
        let place = Place::Narrowed { start };
        self.search_text(&narrowed, first..narrowed.len(), stop, place, scratch);
        scratch.narrowed = narrowed;
    }

    /// Runs the anchor search over `text[range]` and confirms each head hit that starts
    /// before `stop`, adding the matches to the scratch's candidates.
    fn search_text(
        &self,
        text: &[u8],
        range: Range<usize>,
        stop: usize,
        place: Place,
        scratch: &mut Scratch,
    ) {
        self.head_search.for_each(text, range, stop, |start, head| {
            for candidate in &self.heads.candidates[head] {
                if !candidate.is_at(&text[start..]) {
                    continue;
                }
                if let Some(m) = self.confirm(text, candidate.rule, start, place, scratch) {
                    scratch.candidates.push(m);
                }
            }
        });
    }

    /// Runs `rule`'s regex on `text` anchored at `start`, over at most the rule's `max_len`
    /// characters, and places the match in the haystack.
    fn confirm(
        &self,
        text: &[u8],
        rule: usize,
        start: usize,
        place: Place,
        scratch: &mut Scratch,
    ) -> Option<Match> {
        let compiled = &self.compiled[rule];
        let end = start.saturating_add(compiled.max_len).min(text.len());
        if let Some(byte) = compiled.gate
            && memchr::memchr(byte, &text[start..end]).is_none()
        {
            return None;
        }
        let (range, secret) = self.run_rule(text, rule, start..end, scratch)?;
        Some(Match {
            rule,
            start: place.offset(range.start),
            end: place.offset(range.end),
            encoding: place.encoding(),
            secret_start: place.offset(secret.start),
            secret_end: place.offset(secret.end),
        })
    }

    /// Runs `rule`'s regex on `haystack`, anchored at `range.start` and ending by
    /// `range.end`: the match's range and its secret's.
    fn run_rule(
        &self,
        haystack: &[u8],
        rule: usize,
        range: Range<usize>,
        scratch: &mut Scratch,
    ) -> Option<(Range<usize>, Range<usize>)> {
        let compiled = &self.compiled[rule];
        let input = Input::new(haystack).range(range).anchored(Anchored::Yes);
        let cache = &mut scratch.caches[rule];
        let found = compiled.regex.search_with(cache, &input)?;
        let Some(group) = compiled.secret_group else {
            return Some((found.range(), found.range()));
        };
        // The secret group is wanted only for confirmed matches: ask again, with captures.
        let captures = &mut scratch.captures[rule];
        compiled
            .regex
            .search_captures_with(cache, &input.range(found.range()), captures);
        let secret = captures
            .get_group(group)
            .map_or(found.range(), |g| g.range());
        Some((found.range(), secret))
    }

    /// Moves to `out` the candidates that start in `span`, are not contained in another
    /// candidate of the same rule and encoding, and are not contained in a candidate of a rule
    /// that supersedes theirs.
    fn keep_outermost(&self, span: Range<usize>, scratch: &mut Scratch, out: &mut Vec<Match>) {
        let candidates = &mut scratch.candidates;
        // By rule and encoding, then start; for one start the longest first.
        candidates.sort_unstable_by(|a, b| {
            (a.rule, a.encoding, a.start, b.end).cmp(&(b.rule, b.encoding, b.start, a.end))
        });
        candidates.dedup();
        let first_new = out.len();
        let mut previous: Option<Match> = None;
        let mut reach = 0; // The furthest end among earlier matches of the same rule.
        for &m in candidates.iter() {
            let same_kind = previous.is_some_and(|p| (p.rule, p.encoding) == (m.rule, m.encoding));
            let contained = same_kind && reach >= m.end;
            reach = if same_kind { reach.max(m.end) } else { m.end };
            previous = Some(m);
            if !contained && span.contains(&m.start) && !self.is_superseded(&m, candidates) {
                out.push(m);
            }
        }
        out[first_new..].sort_unstable_by_key(|m| (m.start, m.rule));
    }

    /// Whether a candidate of a rule that supersedes `m`'s rule contains `m`.
    fn is_superseded(&self, m: &Match, candidates: &[Match]) -> bool {
        let outer_rules = &self.superseded_by[m.rule];
        !outer_rules.is_empty()
            && candidates
                .iter()
                .any(|c| outer_rules.contains(&c.rule) && c.start <= m.start && m.end <= c.end)
    }
}
