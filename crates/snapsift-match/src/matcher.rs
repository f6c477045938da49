//! [`Matcher`]: every rule's anchors in one automaton, each hit confirmed by the rule's regex.

use std::borrow::Cow;
use std::ops::Range;

use aho_corasick::{AhoCorasick, MatchKind};
use regex_automata::util::captures::Captures;
use regex_automata::{Anchored, Input, meta};

use crate::compile::{CompiledRule, compile};
use crate::encoding::{narrow, utf16le_anchor, utf16le_ascii};
use crate::heads::{Anchor, Heads};
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
    /// The heads (see the crate docs), in groups of at most 64, each group one automaton
    /// searched leftmost-longest (see [`Matcher::new`]).
    head_groups: Vec<HeadGroup>,
    /// For each rule, the rules whose matches around one of its matches drop it.
    superseded_by: Vec<Vec<usize>>,
    /// The longest head, in bytes.
    max_head_len: usize,
    /// The longest match of any rule, in characters.
    max_match_len: usize,
}

/// One automaton over a group of heads.
#[derive(Debug)]
struct HeadGroup {
    automaton: AhoCorasick,
    /// For each head (by automaton pattern id), the rules and encodings to confirm at its hits.
    candidates: Vec<Vec<(usize, Encoding)>>,
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
    /// Compiles every rule of `set`.
    ///
    /// Each head automaton runs with leftmost-longest semantics because only the leftmost kinds get
    /// `aho-corasick`'s SIMD prefilter (Teddy); with standard (overlapping) semantics it falls
    /// back to a byte-at-a-time automaton several times slower. It still sees every head
    /// position: the search restarts one byte after each hit's start, and no head is a prefix
    /// of another, so at most one head matches at any position.
    pub fn new(set: &RuleSet) -> Result<Matcher, RuleError> {
        let rules = set.rules().to_vec();
        let compiled = rules.iter().map(compile).collect::<Result<Vec<_>, _>>()?;
        let mut anchors = Vec::new();
        for (rule, c) in compiled.iter().enumerate() {
            for anchor in &c.anchors {
                anchors.push(Anchor {
                    bytes: anchor.clone(),
                    rule,
                    encoding: Encoding::Utf8,
                });
                anchors.push(Anchor {
                    bytes: utf16le_anchor(anchor),
                    rule,
                    encoding: Encoding::Utf16Le,
                });
            }
        }
        let heads = Heads::new(&anchors);
        let head_groups = heads
            .groups()
            .map(|group| {
                let automaton = AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .prefilter(true)
                    .build(&heads.texts[group.clone()])
                    .map_err(|e| RuleError::Automaton(e.to_string()))?;
                Ok(HeadGroup {
                    automaton,
                    candidates: heads.candidates[group].to_vec(),
                })
            })
            .collect::<Result<Vec<_>, RuleError>>()?;
        let max_head_len = heads.texts.iter().map(Vec::len).max().unwrap_or(0);
        let max_match_len = compiled.iter().map(|c| c.max_len).max().unwrap_or(0);
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
            head_groups,
            superseded_by,
            max_head_len,
            max_match_len,
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

    /// How many literals the anchor automata search for (see the crate docs): each group of
    /// at most 64 is one SIMD pass over the bytes.
    pub fn head_count(&self) -> usize {
        self.head_groups.iter().map(|g| g.candidates.len()).sum()
    }

    /// How many passes over each chunk's bytes the anchor search makes: one per group of at
    /// most 64 literals.
    pub fn head_passes(&self) -> usize {
        self.head_groups.len()
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
    ///   function of its start and the bytes near it;
    /// * of two matches of one rule where one contains the other, only the outer one is a
    ///   finding (`jdbc:mysql://...` is not also reported as `mysql://...`), and a match inside
    ///   a match of a rule that `supersedes` its rule is not a finding either. An outer match
    ///   starts at most [`Matcher::max_match_len`] bytes before the inner one, inside the
    ///   context, so this choice is made the same way in every chunk.
    ///
    /// Runs of all-zero 4 KiB blocks are skipped when looking for heads, which loses nothing
    /// because no head contains a NUL byte at either end (see the `heads` module).
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
        if span.is_empty() || self.head_groups.is_empty() {
            return;
        }
        // Matches starting in the context before the span are needed to decide containment.
        let first_start = span.start.saturating_sub(self.max_match_len());
        // A head starting before span.end may end up to max_head_len - 1 bytes after it.
        let head_search_end = span
            .end
            .saturating_add(self.max_head_len.saturating_sub(1))
            .min(haystack.len());
        scratch.candidates.clear();
        for segment in NonZeroSegments::new(haystack, first_start..head_search_end) {
            for group in &self.head_groups {
                self.search_group(haystack, group, segment.clone(), span.end, scratch);
            }
        }
        self.keep_outermost(span, scratch, out);
    }

    /// Confirms every hit of `group`'s heads in `segment` that starts before `span_end`,
    /// adding the matches to the scratch's candidates.
    fn search_group(
        &self,
        haystack: &[u8],
        group: &HeadGroup,
        segment: Range<usize>,
        span_end: usize,
        scratch: &mut Scratch,
    ) {
        let mut at = segment.start;
        while let Some(hit) = group
            .automaton
            .find(aho_corasick::Input::new(haystack).span(at..segment.end))
        {
            if hit.start() >= span_end {
                break;
            }
            for &(rule, encoding) in &group.candidates[hit.pattern().as_usize()] {
                let found = match encoding {
                    Encoding::Utf8 => self.confirm(haystack, rule, hit.start(), scratch),
                    Encoding::Utf16Le => self.confirm_utf16(haystack, rule, hit.start(), scratch),
                };
                if let Some(m) = found {
                    scratch.candidates.push(m);
                }
            }
            // Not hit.end(): another head may start inside this one.
            at = hit.start().saturating_add(1);
        }
    }

    /// Runs `rule`'s regex anchored at `start`, over at most the rule's `max_len` bytes.
    fn confirm(
        &self,
        haystack: &[u8],
        rule: usize,
        start: usize,
        scratch: &mut Scratch,
    ) -> Option<Match> {
        let end = start
            .saturating_add(self.compiled[rule].max_len)
            .min(haystack.len());
        let (range, secret) = self.run_rule(haystack, rule, start..end, scratch)?;
        Some(Match {
            rule,
            start: range.start,
            end: range.end,
            encoding: Encoding::Utf8,
            secret_start: secret.start,
            secret_end: secret.end,
        })
    }

    /// Runs `rule`'s regex on the UTF-16LE text at `start`, narrowed to one byte per
    /// character (with the character before it, for look-behind), and maps the match back.
    fn confirm_utf16(
        &self,
        haystack: &[u8],
        rule: usize,
        start: usize,
        scratch: &mut Scratch,
    ) -> Option<Match> {
        let max_len = self.compiled[rule].max_len;
        let mut narrowed = std::mem::take(&mut scratch.narrowed);
        narrowed.clear();
        let before = start.checked_sub(2).map(|b| &haystack[b..start]);
        narrowed.extend(before.and_then(utf16le_ascii));
        let lead = narrowed.len();
        // One character past the longest match, for look-ahead.
        narrow(&haystack[start..], max_len.saturating_add(1), &mut narrowed);
        let end = lead.saturating_add(max_len).min(narrowed.len());
        let found = self.run_rule(&narrowed, rule, lead..end, scratch);
        scratch.narrowed = narrowed;
        let (range, secret) = found?;
        // Narrowed offset `i` is haystack offset `start + 2 * (i - lead)`.
        let wide = |i: usize| start.saturating_add(i.saturating_sub(lead).saturating_mul(2));
        Some(Match {
            rule,
            start: wide(range.start),
            end: wide(range.end),
            encoding: Encoding::Utf16Le,
            secret_start: wide(secret.start),
            secret_end: wide(secret.end),
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
