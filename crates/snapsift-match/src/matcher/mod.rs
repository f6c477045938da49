//! [`Matcher`]: every rule's anchors in one automaton, each hit confirmed by the rule's regex.

use std::borrow::Cow;
use std::ops::Range;

use aho_corasick::{AhoCorasick, MatchKind};
use regex_automata::util::captures::Captures;
use regex_automata::{Anchored, Input, meta};

use crate::runs::TracedCache;

mod dense_regions;

use dense_regions::Dense;

use crate::compile::{CompiledRule, compile};
use crate::dense::{DenseCache, ScreenState};
use crate::encoding::narrow;
use crate::heads::{Anchor, Heads};
use crate::teddy16::Teddy16;
use crate::utf16_runs::Utf16Runs;
use crate::zero::NonZeroSegments;
use crate::{Encoding, Rule, RuleError, RuleSet};

/// Rules that reach at most this many characters from a hit are confirmed by running their
/// regex at each hit even under [`Confirmation::Shared`]: the regex's own search is faster
/// than the shared runs up to about this length, and hits × this length stays small.
const MAX_PLAIN_LEN: usize = 256;

/// How many bytes per byte of a text a longer rule's own search may be handed before its hits
/// go to the shared runs: on ordinary bytes its hits are sparse and it stays below this.
const PLAIN_SPAN_PER_BYTE: usize = 16;

/// A batch of the anchor search's positions ([`crate::teddy16::BATCH_POSITIONS`], 2 KiB) with
/// more candidates than this is dense (see `dense`). Text-heavy disks have 16 to 64 in many
/// batches (the benchmark disk: 44% of its bytes past 16, 0.07% past 32, none past 64), where
/// confirming hits one by one is the faster; bytes made of one anchor have hundreds.
const DENSE_CANDIDATES: u32 = 64;

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
    /// Whether the match was cut at its rule's `max_len`: the rule's automaton was still
    /// reading when it got there, so the text may go on as part of the match (a PGP key block
    /// longer than 64 KiB). A cut match that ends no match of the rule is its first `max_len`
    /// characters, all of them the secret.
    pub truncated: bool,
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
    /// How hits are confirmed.
    confirmation: Confirmation,
    /// The pass over regions dense with hits, where the anchor search can tell them (teddy16).
    dense: Option<Dense>,
    /// Whether [`Matcher::dense`] is used (see [`Matcher::with_dense_filter`]).
    dense_on: bool,
}

/// How the matcher confirms a hit with its rule's regex; see [`Matcher::with_confirmation`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Confirmation {
    /// Runs from nearby hits of one rule share their work (see the crate docs): each byte is
    /// read a bounded number of times whatever the bytes are. Rules that reach at most 256
    /// characters run their regex at each hit, as [`Confirmation::Plain`] does, and so do
    /// longer ones until their hits have cost 16 bytes read per byte of the text.
    #[default]
    Shared,
    /// Each hit's regex runs alone over the rule's whole reach: hits × length on bytes made
    /// for it. The reference the shared confirmation is compared with in tests.
    Plain,
    /// As [`Confirmation::Shared`], but the hits of rules that reach over 256 characters go to
    /// the shared runs from the first: for tests that compare it with the plain one.
    SharedOnly,
}

/// How the anchor search finds the heads; see [`Matcher::with_anchor_search`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnchorSearch {
    /// The fastest search this CPU can run: every head in one pass of a 16-bucket Teddy
    /// where the CPU has AVX2, else [`AnchorSearch::Portable`].
    #[default]
    Fastest,
    /// `aho-corasick`'s automaton, ignoring ASCII case, in passes of at most 32 heads: on
    /// every CPU, and the reference the fast one is compared with in tests.
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

/// A multi-literal searcher that ignores ASCII case: an Aho-Corasick automaton (its packed
/// Teddy searcher cannot ignore case). It reports the leftmost occurrence; heads are
/// prefix-free, so at most one head matches at a position and the choice between them never
/// arises.
#[derive(Debug)]
struct HeadSearcher(AhoCorasick);

impl HeadSearcher {
    fn new(texts: &[&[u8]]) -> Result<HeadSearcher, RuleError> {
        AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .ascii_case_insensitive(true)
            .build(texts)
            .map(HeadSearcher)
            .map_err(|e| RuleError::Automaton(e.to_string()))
    }

    /// The leftmost head in `text[range]`, in any ASCII case: its start and pattern index.
    fn find(&self, text: &[u8], range: Range<usize>) -> Option<(usize, usize)> {
        self.0
            .find(aho_corasick::Input::new(text).span(range))
            .map(|m| (m.start(), m.pattern().as_usize()))
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
    /// Each rule's regex cache, made at the rule's first hit: a thread meets few rules' hits,
    /// and a cache for each would cost it megabytes.
    caches: Vec<Option<meta::Cache>>,
    captures: Vec<Captures>,
    candidates: Vec<Match>,
    narrowed: Vec<u8>,
    /// For each candidate, the furthest end of its rule's candidates up to it.
    reaches: Vec<usize>,
    /// For each candidate, the furthest end of its rule's truncated candidates up to it.
    cut_reaches: Vec<usize>,
    /// For each rule, the state of the shared confirmation.
    runs: Vec<RuleRuns>,
    /// Counts the searched texts, so that a rule's runs know when their text changed.
    text_count: u64,
    /// Bytes the confirmation automata have read (see [`Scratch::confirmation_work`]).
    work: u64,
    /// The dense filter's lazy DFA cache.
    dense_cache: DenseCache,
    /// The positions and rules the dense filter reports in a region.
    dense_starts: Vec<(usize, usize)>,
    /// Positions handed to the dense filter (see [`Scratch::dense_positions`]).
    dense_positions: u64,
    /// For each rule, what its truncation screen knows of the region (see `dense`).
    screens: Vec<ScreenState>,
}

impl Scratch {
    /// How many bytes the rules' regexes have read since this scratch was made, counting
    /// each byte once per automaton step: a measure of the matcher's work that does not
    /// depend on the machine's speed. The plain confirmation ([`Confirmation::Plain`]) counts
    /// the whole span it hands the regex, which bounds what the regex reads.
    pub fn confirmation_work(&self) -> u64 {
        self.work
    }

    /// How many positions of the searched texts went to the dense filter (see
    /// [`Matcher::with_dense_filter`]) since this scratch was made, rather than having their
    /// hits confirmed one by one. Its bytes read are counted in [`Scratch::confirmation_work`].
    pub fn dense_positions(&self) -> u64 {
        self.dense_positions
    }
}

/// The shared confirmation's state for one rule, over one text.
#[derive(Debug, Default)]
struct RuleRuns {
    /// The text these runs are over (see `Scratch::text_count`).
    text: u64,
    /// The automata's runs, made at the rule's first shared run: most rules never have one,
    /// and two lazy DFA caches for each of them would cost every thread megabytes.
    traced: Option<Box<TracedRuns>>,
    /// The match found so far that reaches furthest: its start and end.
    outer: Option<(usize, usize)>,
    /// The spans handed to the rule's own search over this text (see
    /// [`Matcher::adaptive_match_end`]).
    plain_spans: usize,
    /// Whether this text's hits now go to the shared runs.
    shared: bool,
}

/// The runs of one rule's two automata.
#[derive(Debug)]
struct TracedRuns {
    /// The relaxed automaton's runs.
    relaxed: TracedCache,
    /// The rule's own automaton's runs.
    strict: TracedCache,
}

impl RuleRuns {
    /// Starts over when `text` (a `Scratch::text_count`) is not the text these runs are over:
    /// nothing learnt of one text holds for another.
    fn begin(&mut self, text: u64) {
        if self.text != text {
            self.text = text;
            if let Some(traced) = &mut self.traced {
                traced.relaxed.forget();
                traced.strict.forget();
            }
            self.outer = None;
            self.plain_spans = 0;
            self.shared = false;
        }
    }

    /// The runs of the rule's automata, made on first use.
    fn traced(&mut self, compiled: &CompiledRule) -> &mut TracedRuns {
        self.traced.get_or_insert_with(|| {
            Box::new(TracedRuns {
                relaxed: TracedCache::new(&compiled.relaxed, compiled.max_len),
                strict: TracedCache::new(&compiled.strict, compiled.max_len),
            })
        })
    }

    /// Records a match from `start` to `end`, if it reaches further than the outermost so far.
    fn note_match(&mut self, start: usize, end: usize) {
        if self.outer.is_none_or(|(_, outer_end)| end > outer_end) {
            self.outer = Some((start, end));
        }
    }
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
        let dense = match head_search {
            HeadSearch::Teddy16(_) => Dense::new(&compiled)?,
            HeadSearch::Passes(_) => None,
        };
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
            confirmation: Confirmation::default(),
            dense,
            dense_on: true,
        })
    }

    /// The same matcher, confirming hits as `confirmation` says. Every choice finds the same
    /// matches; they differ only in how much work bytes made for the purpose can cost.
    pub fn with_confirmation(mut self, confirmation: Confirmation) -> Matcher {
        self.confirmation = confirmation;
        self
    }

    /// The same matcher, with regions dense with anchor hits handed to one automaton pass
    /// (`true`, the default where the anchor search is teddy16) or every hit confirmed one by
    /// one (`false`). Both find the same matches; the filter bounds what a region made of
    /// anchors costs. The portable anchor search has no dense filter.
    pub fn with_dense_filter(mut self, on: bool) -> Matcher {
        self.dense_on = on;
        self
    }

    /// The same matcher, with the dense filter (see [`Matcher::with_dense_filter`]) run over
    /// runs of dense batches of at least `bytes` (default 1 MiB, never less than twice the
    /// longest filtered rule, about 16 KiB); shorter runs are confirmed hit by hit. For tests
    /// and measurements on small haystacks: on real text the filter's automaton is slow to
    /// build, and only floods of megabytes repay it.
    pub fn with_dense_min_region(mut self, bytes: usize) -> Matcher {
        if let Some(dense) = &mut self.dense {
            dense.set_min_region(bytes);
        }
        self
    }

    /// Whether regions dense with hits go to the dense filter: it is on and this matcher has
    /// one (see [`Matcher::with_dense_filter`]).
    pub fn dense_filter(&self) -> bool {
        self.dense_on && self.dense.is_some()
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

    /// The literals every match of rule `rule` (an index into [`Matcher::rules`]) begins
    /// with: its anchors, as extracted from its pattern.
    ///
    /// # Panics
    ///
    /// Panics if `rule` is not an index into [`Matcher::rules`].
    pub fn anchors(&self, rule: usize) -> &[Vec<u8>] {
        &self.compiled[rule].anchors
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
            caches: self.compiled.iter().map(|_| None).collect(),
            captures: self
                .compiled
                .iter()
                .map(|c| c.regex.create_captures())
                .collect(),
            candidates: Vec::new(),
            narrowed: Vec::new(),
            reaches: Vec::new(),
            cut_reaches: Vec::new(),
            runs: self.compiled.iter().map(|_| RuleRuns::default()).collect(),
            text_count: 0,
            work: 0,
            dense_cache: DenseCache::default(),
            dense_starts: Vec::new(),
            dense_positions: 0,
            screens: Vec::new(),
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
    ///   the match's start. Whether a match is cut at `max_len` ([`Match::truncated`]) is
    ///   decided on the same bytes: the rule's automaton still reading when it gets there;
    /// * of two matches of one rule where one contains the other, only the outer one is a
    ///   finding (`jdbc:mysql://...` is not also reported as `mysql://...`), nor is a match
    ///   that starts inside a truncated one of its rule (whose end is unknown), and a match
    ///   inside a match of a rule that `supersedes` its rule is not a finding either. An outer
    ///   match starts at most [`Matcher::max_match_len`] bytes before the inner one, inside
    ///   the context, so this choice is made the same way in every chunk.
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
        // The runs of each rule start afresh on a new text.
        scratch.text_count = scratch.text_count.wrapping_add(1);
        let (HeadSearch::Teddy16(teddy), true) = (&self.head_search, self.dense_filter()) else {
            self.head_search.for_each(text, range, stop, |start, head| {
                self.confirm_hit(text, start, head, place, scratch);
            });
            return;
        };
        let stop = stop.min(range.end);
        let mut from = range.start;
        while from < stop {
            let dense_at = teddy.for_each_until_dense(
                text,
                from..range.end,
                stop,
                Some(DENSE_CANDIDATES),
                |start, head| self.confirm_hit(text, start, head, place, scratch),
            );
            let Some(at) = dense_at else {
                return;
            };
            // At least the batch found dense, so that the search moves on.
            let end = teddy
                .dense_end(text, at..range.end, stop, DENSE_CANDIDATES)
                .max(at.saturating_add(crate::teddy16::BATCH_POSITIONS))
                .min(stop);
            self.search_dense(text, at..end, range.end, place, scratch);
            from = end;
        }
    }

    /// Confirms at `start` each rule with an anchor there that begins with head `head`.
    fn confirm_hit(
        &self,
        text: &[u8],
        start: usize,
        head: usize,
        place: Place,
        scratch: &mut Scratch,
    ) {
        for candidate in &self.heads.candidates[head] {
            if !candidate.is_at(&text[start..]) {
                continue;
            }
            if let Some(m) = self.confirm(text, candidate.rule, start, place, scratch) {
                scratch.candidates.push(m);
            }
        }
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
        if !compiled.may_begin(&text[start..]) {
            return None;
        }
        let reach = start.saturating_add(compiled.max_len);
        let end = reach.min(text.len());
        if let Some(byte) = compiled.gate
            && memchr::memchr(byte, &text[start..end]).is_none()
        {
            return None;
        }
        let found = match self.confirmation {
            // A short rule's regex reads little from each hit; its own search is faster than
            // stepping an automaton here.
            Confirmation::Shared if compiled.max_len > MAX_PLAIN_LEN => {
                self.adaptive_match_end(text, rule, start, end, scratch)
            }
            Confirmation::SharedOnly if compiled.max_len > MAX_PLAIN_LEN => {
                self.shared_only_match_end(text, rule, start, end, scratch)
            }
            Confirmation::Shared | Confirmation::SharedOnly | Confirmation::Plain => {
                self.plain_match_end(text, rule, start, end, scratch)
            }
        };
        // Only a window the rule's whole reach fits in can show a match cut by `max_len`
        // rather than by the end of the text (the same in every chunk: the overlap contract
        // gives each match its rule's reach of context).
        let truncated = compiled.truncatable
            && end == reach
            && found.is_none_or(|found| found == end)
            && self.goes_on_past(text, rule, start, end, scratch);
        let (range, secret) = match found {
            Some(found) => {
                let range = start..found;
                (range.clone(), self.secret(text, rule, range, scratch))
            }
            None if truncated => (start..end, start..end),
            None => return None,
        };
        Some(Match {
            rule,
            start: place.offset(range.start),
            end: place.offset(range.end),
            encoding: place.encoding(),
            secret_start: place.offset(secret.start),
            secret_end: place.offset(secret.end),
            truncated,
        })
    }

    /// Whether `rule`'s automaton, run anchored at `start`, reads to `end` (the rule's
    /// `max_len` from `start`) without dying and without a match ending before `end`: a
    /// match may go on past the rule's reach. Where the rule's hits go to the shared runs,
    /// so does this run, so that the hits of a flood of headers without footers cost about
    /// their header each (see `runs`); elsewhere it runs alone, and under
    /// [`Confirmation::Shared`] counts towards the span that sends the rule's hits to the
    /// shared runs.
    fn goes_on_past(
        &self,
        text: &[u8],
        rule: usize,
        start: usize,
        end: usize,
        scratch: &mut Scratch,
    ) -> bool {
        let compiled = &self.compiled[rule];
        let runs = &mut scratch.runs[rule];
        runs.begin(scratch.text_count);
        let long = compiled.max_len > MAX_PLAIN_LEN;
        let shared = match self.confirmation {
            Confirmation::Shared => long && runs.shared,
            Confirmation::SharedOnly => long,
            Confirmation::Plain => false,
        };
        let work = &mut scratch.work;
        if !shared && self.confirmation == Confirmation::Shared && long {
            runs.plain_spans = runs.plain_spans.saturating_add(end - start);
        }
        let strict = &mut runs.traced(compiled).strict;
        let found = if shared {
            let window = compiled.max_len;
            strict.run(&compiled.strict, text, start, end, window, work)
        } else {
            strict.run_alone(&compiled.strict, text, start, end, work)
        };
        match found {
            Ok(last) => strict.reached_end() && last.is_none_or(|last| last == end),
            // The lazy DFA gives up only where its cache thrashes, which this configuration
            // (no minimum clear count) never makes it do.
            Err(_) => false,
        }
    }

    /// The end of `rule`'s match anchored at `start` and ending by `end`: by the rule's own
    /// search at each hit while the spans it was given add up to at most
    /// [`PLAIN_SPAN_PER_BYTE`] per byte of the text so far (ordinary bytes, where that search
    /// is the fastest), then by the shared runs ([`Matcher::shared_match_end`]). Both give the
    /// same matches, so the switch changes only the cost.
    fn adaptive_match_end(
        &self,
        text: &[u8],
        rule: usize,
        start: usize,
        end: usize,
        scratch: &mut Scratch,
    ) -> Option<usize> {
        let runs = &mut scratch.runs[rule];
        runs.begin(scratch.text_count);
        if !runs.shared {
            runs.plain_spans = runs.plain_spans.saturating_add(end - start);
            runs.shared = runs.plain_spans > end.saturating_mul(PLAIN_SPAN_PER_BYTE);
        }
        if runs.shared {
            return self.shared_match_end(text, rule, start, end, scratch);
        }
        let found = self.plain_match_end(text, rule, start, end, scratch)?;
        scratch.runs[rule].note_match(start, found);
        Some(found)
    }

    /// [`Matcher::shared_match_end`], the rule's runs made afresh on a new text.
    fn shared_only_match_end(
        &self,
        text: &[u8],
        rule: usize,
        start: usize,
        end: usize,
        scratch: &mut Scratch,
    ) -> Option<usize> {
        scratch.runs[rule].begin(scratch.text_count);
        self.shared_match_end(text, rule, start, end, scratch)
    }

    /// The end of `rule`'s match anchored at `start` and ending by `end`, found by the runs
    /// shared between hits (see `runs`); `None` also where the match could only lie inside a
    /// match of the same rule found at an earlier hit, which [`Matcher::keep_outermost`]
    /// would drop.
    fn shared_match_end(
        &self,
        text: &[u8],
        rule: usize,
        start: usize,
        end: usize,
        scratch: &mut Scratch,
    ) -> Option<usize> {
        let compiled = &self.compiled[rule];
        let window = compiled.max_len;
        let runs = &mut scratch.runs[rule];
        let work = &mut scratch.work;
        let outer = runs.outer;
        let traced = runs.traced(compiled);
        // No match of the relaxed pattern, none of the rule's; else its furthest end bounds
        // the rule's match.
        let Ok(bound) = traced
            .relaxed
            .run(&compiled.relaxed, text, start, end, window, work)
        else {
            return self.plain_match_end(text, rule, start, end, scratch);
        };
        let bound = bound?;
        if outer.is_some_and(|(outer_start, outer_end)| outer_start <= start && bound <= outer_end)
        {
            return None;
        }
        let Ok(found) = traced
            .strict
            .run(&compiled.strict, text, start, bound, window, work)
        else {
            return self.plain_match_end(text, rule, start, end, scratch);
        };
        let found = found?;
        runs.note_match(start, found);
        Some(found)
    }

    /// The end of `rule`'s match anchored at `start` and ending by `end`, found by running its
    /// regex over the whole span.
    fn plain_match_end(
        &self,
        text: &[u8],
        rule: usize,
        start: usize,
        end: usize,
        scratch: &mut Scratch,
    ) -> Option<usize> {
        let compiled = &self.compiled[rule];
        let input = Input::new(text).range(start..end).anchored(Anchored::Yes);
        scratch.work = scratch.work.saturating_add((end - start) as u64);
        let found = compiled
            .regex
            .search_with(cache(&mut scratch.caches[rule], compiled), &input)?;
        Some(found.end())
    }

    /// Where the secret of `rule`'s match `range` of `text` lies: its `secret` group, else
    /// the whole match.
    fn secret(
        &self,
        text: &[u8],
        rule: usize,
        range: Range<usize>,
        scratch: &mut Scratch,
    ) -> Range<usize> {
        let compiled = &self.compiled[rule];
        let Some(group) = compiled.secret_group else {
            return range;
        };
        // The match is the rule's leftmost-first match anchored at its start and none ends
        // after it, so searching just its span finds it again, now with captures.
        let input = Input::new(text)
            .range(range.clone())
            .anchored(Anchored::Yes);
        scratch.work = scratch.work.saturating_add(range.len() as u64);
        let captures = &mut scratch.captures[rule];
        compiled.regex.search_captures_with(
            cache(&mut scratch.caches[rule], compiled),
            &input,
            captures,
        );
        captures.get_group(group).map_or(range, |g| g.range())
    }

    /// Moves to `out` the candidates that start in `span`, are not contained in another
    /// candidate of the same rule and encoding, do not start inside a truncated one of them
    /// (whose end is unknown), and are not contained in a candidate of a rule that supersedes
    /// theirs.
    fn keep_outermost(&self, span: Range<usize>, scratch: &mut Scratch, out: &mut Vec<Match>) {
        let candidates = &mut scratch.candidates;
        // By rule and encoding, then start; for one start the longest first.
        candidates.sort_unstable_by(|a, b| {
            (a.rule, a.encoding, a.start, b.end).cmp(&(b.rule, b.encoding, b.start, a.end))
        });
        candidates.dedup();
        // reaches[i]: the furthest end among candidates[..=i] of candidates[i]'s rule and
        // encoding, which all start no later than candidates[i].
        let reaches = &mut scratch.reaches;
        reaches.clear();
        // cut_reaches[i]: the same for the truncated ones among them (0 if none).
        let cut_reaches = &mut scratch.cut_reaches;
        cut_reaches.clear();
        let mut previous: Option<Match> = None;
        for m in candidates.iter() {
            let same_kind = previous.is_some_and(|p| (p.rule, p.encoding) == (m.rule, m.encoding));
            let (reach, cut_reach) = match (reaches.last(), cut_reaches.last()) {
                (Some(&reach), Some(&cut_reach)) if same_kind => (reach.max(m.end), cut_reach),
                _ => (m.end, 0),
            };
            reaches.push(reach);
            cut_reaches.push(if m.truncated {
                cut_reach.max(m.end)
            } else {
                cut_reach
            });
            previous = Some(*m);
        }
        let first_new = out.len();
        for (i, m) in candidates.iter().enumerate() {
            let contained = i > 0
                && (candidates[i - 1].rule, candidates[i - 1].encoding) == (m.rule, m.encoding)
                && (reaches[i - 1] >= m.end || cut_reaches[i - 1] > m.start);
            if !contained && span.contains(&m.start) && !self.is_superseded(m, candidates, reaches)
            {
                out.push(*m);
            }
        }
        out[first_new..].sort_unstable_by_key(|m| (m.start, m.rule));
    }

    /// Whether a candidate of a rule that supersedes `m`'s rule contains `m`, in either
    /// encoding; `candidates` are sorted as [`Matcher::keep_outermost`] sorts them and
    /// `reaches` are their reaches. Binary searches, so that a flood of candidates costs
    /// n log n rather than n².
    fn is_superseded(&self, m: &Match, candidates: &[Match], reaches: &[usize]) -> bool {
        self.superseded_by[m.rule].iter().any(|&outer| {
            let from = candidates.partition_point(|c| c.rule < outer);
            let to = candidates.partition_point(|c| c.rule <= outer);
            [Encoding::Utf8, Encoding::Utf16Le]
                .into_iter()
                .any(|encoding| {
                    let block = &candidates[from..to];
                    let lo = block.partition_point(|c| c.encoding < encoding);
                    let hi = block.partition_point(|c| c.encoding <= encoding);
                    // The candidates of this block that start no later than m; the furthest
                    // reaching of them contains m if any does.
                    let starts = block[lo..hi].partition_point(|c| c.start <= m.start);
                    starts > 0 && reaches[from + lo + starts - 1] >= m.end
                })
        })
    }
}

/// A rule's regex cache, made on first use.
fn cache<'c>(slot: &'c mut Option<meta::Cache>, compiled: &CompiledRule) -> &'c mut meta::Cache {
    slot.get_or_insert_with(|| compiled.regex.create_cache())
}
