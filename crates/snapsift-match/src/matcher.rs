//! [`Matcher`]: every rule's anchors in one automaton, each hit confirmed by the rule's regex.

use std::ops::Range;

use aho_corasick::{AhoCorasick, MatchKind};
use regex_automata::{Anchored, Input, meta};

use crate::compile::{CompiledRule, compile};
use crate::zero::NonZeroSegments;
use crate::{Rule, RuleError, RuleSet};

/// One match of one rule, as byte offsets into the haystack given to [`Matcher::find_in`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Match {
    /// Index of the rule in [`Matcher::rules`].
    pub rule: usize,
    /// Offset of the first byte of the match.
    pub start: usize,
    /// Offset one past the last byte of the match.
    pub end: usize,
}

/// All rules of a [`RuleSet`], compiled once and shared by every scanning thread.
///
/// A `Matcher` is immutable and `Send + Sync`; each thread brings its own [`Scratch`].
#[derive(Debug)]
pub struct Matcher {
    rules: Vec<Rule>,
    compiled: Vec<CompiledRule>,
    /// Every distinct anchor of every rule, searched leftmost-longest (see [`Matcher::new`]).
    anchors: AhoCorasick,
    /// For each anchor (by automaton pattern id), the rules of that anchor and of every other
    /// anchor that is a prefix of it: all the rules anchored at a position where it matches.
    anchor_rules: Vec<Vec<usize>>,
    /// The longest anchor, in bytes.
    max_anchor_len: usize,
    /// The longest match of any rule, in bytes.
    max_match_len: usize,
}

/// Per-thread working memory for [`Matcher::find_in`].
#[derive(Debug)]
pub struct Scratch {
    caches: Vec<meta::Cache>,
    candidates: Vec<Match>,
}

impl Matcher {
    /// Compiles every rule of `set`.
    ///
    /// The anchor automaton runs with leftmost-longest semantics because only the leftmost
    /// kinds get `aho-corasick`'s SIMD prefilter (Teddy); with standard (overlapping) semantics
    /// it falls back to a byte-at-a-time automaton several times slower. Leftmost-longest
    /// still sees every anchor position: the search restarts one byte after each hit's start,
    /// and at a given start the longest anchor found stands for all the anchors that are its
    /// prefixes, whose rules are folded into its entry of `anchor_rules`.
    pub fn new(set: &RuleSet) -> Result<Matcher, RuleError> {
        let rules = set.rules().to_vec();
        let compiled = rules.iter().map(compile).collect::<Result<Vec<_>, _>>()?;
        let mut anchor_texts: Vec<&[u8]> = Vec::new();
        let mut anchor_rules: Vec<Vec<usize>> = Vec::new();
        for (rule, c) in compiled.iter().enumerate() {
            for anchor in &c.anchors {
                match anchor_texts.iter().position(|a| *a == anchor.as_slice()) {
                    Some(i) => anchor_rules[i].push(rule),
                    None => {
                        anchor_texts.push(anchor);
                        anchor_rules.push(vec![rule]);
                    }
                }
            }
        }
        // Fold in the rules of every anchor that is a prefix of another (see above).
        let mut anchor_rules_closed = anchor_rules.clone();
        for (i, longer) in anchor_texts.iter().enumerate() {
            for (j, shorter) in anchor_texts.iter().enumerate() {
                if i != j && longer.starts_with(shorter) {
                    anchor_rules_closed[i].extend_from_slice(&anchor_rules[j]);
                }
            }
            anchor_rules_closed[i].sort_unstable();
            anchor_rules_closed[i].dedup();
        }
        let anchor_rules = anchor_rules_closed;
        let anchors = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .prefilter(true)
            .build(&anchor_texts)
            .map_err(|e| RuleError::Automaton(e.to_string()))?;
        let max_anchor_len = anchor_texts.iter().map(|a| a.len()).max().unwrap_or(0);
        let max_match_len = compiled.iter().map(|c| c.max_len).max().unwrap_or(0);
        Ok(Matcher {
            rules,
            compiled,
            anchors,
            anchor_rules,
            max_anchor_len,
            max_match_len,
        })
    }

    /// The rules, indexed by [`Match::rule`].
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The longest match any rule can report.
    pub fn max_match_len(&self) -> usize {
        self.max_match_len
    }

    /// How many bytes of context [`Matcher::find_in`] needs on each side of its span:
    /// the longest match, plus one byte for look-around assertions such as `\b`.
    pub fn context_len(&self) -> usize {
        self.max_match_len.saturating_add(1)
    }

    /// Fresh working memory for one thread.
    pub fn scratch(&self) -> Scratch {
        Scratch {
            caches: self
                .compiled
                .iter()
                .map(|c| c.regex.create_cache())
                .collect(),
            candidates: Vec::new(),
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
    /// * every match starts with an anchor and is confirmed by the rule's regex anchored at
    ///   that position, over at most the rule's `max_len` bytes, with one byte beyond either
    ///   end visible to look-around: a match is a function of its start and the bytes near it;
    /// * of two matches of one rule where one contains the other, only the outer one is a
    ///   finding (`jdbc:mysql://...` is not also reported as `mysql://...`). An outer match
    ///   starts at most `max_len` bytes before the inner one, inside the context, so this
    ///   choice is made the same way in every chunk.
    ///
    /// Runs of all-zero 4 KiB blocks are skipped when looking for anchors, which loses
    /// nothing because no anchor contains a NUL byte (the rule compiler refuses those).
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
        if span.is_empty() || self.anchor_rules.is_empty() {
            return;
        }
        // Matches starting in the context before the span are needed to decide containment.
        let first_start = span.start.saturating_sub(self.max_match_len);
        // An anchor starting before span.end may end up to max_anchor_len - 1 bytes after it.
        let anchor_search_end = span
            .end
            .saturating_add(self.max_anchor_len.saturating_sub(1))
            .min(haystack.len());
        scratch.candidates.clear();
        for segment in NonZeroSegments::new(haystack, first_start..anchor_search_end) {
            let mut at = segment.start;
            while let Some(hit) = self
                .anchors
                .find(aho_corasick::Input::new(haystack).span(at..segment.end))
            {
                if hit.start() >= span.end {
                    break;
                }
                for &rule in &self.anchor_rules[hit.pattern().as_usize()] {
                    if let Some(m) = self.confirm(haystack, rule, hit.start(), scratch) {
                        scratch.candidates.push(m);
                    }
                }
                // Not hit.end(): another anchor may start inside this one.
                at = hit.start().saturating_add(1);
            }
        }
        self.keep_outermost(span, scratch, out);
    }

    /// Runs `rule`'s regex anchored at `start`, over at most the rule's `max_len` bytes.
    fn confirm(
        &self,
        haystack: &[u8],
        rule: usize,
        start: usize,
        scratch: &mut Scratch,
    ) -> Option<Match> {
        let compiled = &self.compiled[rule];
        let end = start.saturating_add(compiled.max_len).min(haystack.len());
        let input = Input::new(haystack)
            .range(start..end)
            .anchored(Anchored::Yes);
        let found = compiled
            .regex
            .search_with(&mut scratch.caches[rule], &input)?;
        Some(Match {
            rule,
            start: found.start(),
            end: found.end(),
        })
    }

    /// Moves to `out` the candidates that start in `span` and are not contained in another
    /// candidate of the same rule.
    fn keep_outermost(&self, span: Range<usize>, scratch: &mut Scratch, out: &mut Vec<Match>) {
        let candidates = &mut scratch.candidates;
        // By rule, then start; for one start the longest first.
        candidates.sort_unstable_by(|a, b| (a.rule, a.start, b.end).cmp(&(b.rule, b.start, a.end)));
        candidates.dedup();
        let first_new = out.len();
        let mut previous: Option<Match> = None;
        let mut reach = 0; // The furthest end among earlier matches of the same rule.
        for &m in candidates.iter() {
            let same_rule = previous.is_some_and(|p| p.rule == m.rule);
            let contained = same_rule && reach >= m.end;
            reach = if same_rule { reach.max(m.end) } else { m.end };
            previous = Some(m);
            if !contained && span.contains(&m.start) {
                out.push(m);
            }
        }
        out[first_new..].sort_unstable_by_key(|m| (m.start, m.rule));
    }
}
