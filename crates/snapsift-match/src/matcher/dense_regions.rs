//! Confirming the hits of a region dense with them (see `crate::dense`): the filter's pass,
//! the screen of the rules it leaves to their prefixes, and the fallback hit by hit.

use std::ops::Range;

use regex_syntax::hir::Hir;

use super::{HeadSearch, Matcher, Place, Scratch};
use crate::compile::CompiledRule;
use crate::dense::{DenseFilter, ScreenState, TruncationScreen};
use crate::heads::{Anchor, Heads};
use crate::{AnchorSearch, RuleError};

/// The shortest run of dense batches the filter reads by default: its lazy DFA makes its
/// states as it meets them, which on real text is slow. With runs of 16 KiB and 32 candidates
/// a batch, the benchmark disk's scan took 45% longer; with 64 KiB runs and 64 candidates a
/// 30 MB tree of `/etc`, headers and Python sources still had one run, at a third of the speed.
/// Bytes made to be slow are dense for megabytes.
pub(super) const MIN_REGION: usize = 1 << 20;

/// What the matcher runs over a region dense with hits (see `dense`).
#[derive(Debug)]
pub(super) struct Dense {
    /// The automaton of the rules that match only where their pattern does.
    filter: DenseFilter,
    /// The anchors of the other rules (those whose matches may be cut at their length) that
    /// have too many prefixes for the filter, and their search, if there are any.
    others: Option<(Heads, HeadSearch)>,
    /// For each rule whose matches may be cut at its length, its screen.
    screens: Vec<Option<TruncationScreen>>,
    /// The shortest region the filter is run over (see [`MIN_REGION`]); never less than twice
    /// [`DenseFilter::reach`], which it reads past the region's end.
    pub(super) min_region: usize,
}

impl Dense {
    /// Sets the shortest region the filter reads to `bytes`, or twice its reach if more.
    pub(super) fn set_min_region(&mut self, bytes: usize) {
        self.min_region = bytes.max(self.filter.reach().saturating_mul(2));
    }

    /// The dense pass for `compiled`'s rules, or `None` if no rule can go to the filter.
    pub(super) fn new(compiled: &[CompiledRule]) -> Result<Option<Dense>, RuleError> {
        // A rule whose matches may be cut at its length has a match wherever its automaton
        // reads that far, pattern or not: the filter looks for its prefixes (in the pattern's
        // own case), which every match and cut match begins with, and the screen decides.
        let prefixes: Vec<Option<Hir>> = compiled
            .iter()
            .map(|c| {
                let prefixes = c.exact_prefixes.as_ref().filter(|_| c.truncatable)?;
                Some(Hir::alternation(
                    prefixes.iter().map(|p| Hir::literal(p.clone())).collect(),
                ))
            })
            .collect();
        let filtered: Vec<(usize, &Hir, usize)> = compiled
            .iter()
            .enumerate()
            .filter_map(|(rule, c)| match &prefixes[rule] {
                Some(prefixes) => Some((rule, prefixes, prefixes.properties().maximum_len()?)),
                None if c.truncatable => None,
                None => Some((rule, &c.loosened, c.max_len)),
            })
            .collect();
        let Some(filter) = DenseFilter::new(&filtered)? else {
            return Ok(None);
        };
        let others: Vec<Anchor> = compiled
            .iter()
            .enumerate()
            .filter(|&(rule, c)| c.truncatable && prefixes[rule].is_none())
            .flat_map(|(rule, c)| {
                c.anchors.iter().map(move |bytes| Anchor {
                    bytes: bytes.clone(),
                    rule,
                })
            })
            .collect();
        let others = if others.is_empty() {
            None
        } else {
            let heads = Heads::new(&others);
            let search = HeadSearch::new(&heads, AnchorSearch::Fastest)?;
            Some((heads, search))
        };
        let min_region = MIN_REGION.max(filter.reach().saturating_mul(2));
        let screens = compiled
            .iter()
            .map(|c| {
                c.truncatable.then(|| {
                    TruncationScreen::new(c.max_len, c.alphabet.clone(), c.suffixes.as_deref())
                })
            })
            .collect();
        Ok(Some(Dense {
            filter,
            others,
            screens,
            min_region,
        }))
    }
}

impl Matcher {
    /// Confirms the hits that start in `region` of `text`, a region dense with them, where
    /// heads must end by `range_end`: by the dense filter where the region is long enough
    /// (see `dense`), else, or where the filter gives up, one hit at a time. Finds what
    /// confirming each hit finds.
    pub(super) fn search_dense(
        &self,
        text: &[u8],
        region: Range<usize>,
        range_end: usize,
        place: Place,
        scratch: &mut Scratch,
    ) {
        let Some(dense) = &self.dense else {
            return self.search_hits(text, region, range_end, place, scratch);
        };
        // The filter reports where matches begin; a hit also needs its head to end by
        // `range_end`, which every position more than the longest head before it has, so the
        // last positions go hit by hit. (`find_in`'s lookahead makes that hold everywhere;
        // this keeps the argument here.)
        let filtered = region.start..region.end.min(range_end.saturating_sub(self.max_head_len));
        if filtered.len() < dense.min_region {
            return self.search_hits(text, region, range_end, place, scratch);
        }
        let mut starts = std::mem::take(&mut scratch.dense_starts);
        starts.clear();
        scratch.dense_positions = scratch
            .dense_positions
            .saturating_add(filtered.len() as u64);
        let filtered_ok = dense
            .filter
            .starts(
                &mut scratch.dense_cache,
                text,
                filtered.clone(),
                &mut starts,
                &mut scratch.work,
            )
            .is_ok();
        if filtered_ok {
            if let Some((heads, search)) = &dense.others {
                search.for_each(
                    text,
                    filtered.start..range_end,
                    filtered.end,
                    |start, head| {
                        for candidate in &heads.candidates[head] {
                            let rule = candidate.rule;
                            if candidate.is_at(&text[start..])
                                && self.compiled[rule].may_begin(&text[start..])
                            {
                                starts.push((start, rule));
                            }
                        }
                    },
                );
            }
            // In order of position, as the hits would come.
            starts.sort_unstable();
            starts.dedup();
            let mut screened = std::mem::take(&mut scratch.screens);
            screened.clear();
            screened.resize_with(self.rules.len(), ScreenState::default);
            let runs = &mut scratch.runs;
            let work = &mut scratch.work;
            let text_count = scratch.text_count;
            starts.retain(|&(start, rule)| {
                dense.screens[rule].as_ref().is_none_or(|screen| {
                    screen.may_match(text, start, &mut screened[rule], |from, to| {
                        let compiled = &self.compiled[rule];
                        let runs = &mut runs[rule];
                        runs.begin(text_count);
                        let strict = &mut runs.traced(compiled).strict;
                        // Where the automaton gives up, it may be alive.
                        strict
                            .run_alone(&compiled.strict, text, from, to, work)
                            .map_or(true, |last| last.is_some() || strict.reached_end())
                    })
                })
            });
            scratch.screens = screened;

            for &(start, rule) in &starts {
                if let Some(m) = self.confirm(text, rule, start, place, scratch) {
                    scratch.candidates.push(m);
                }
            }
        } else {
            self.search_hits(text, filtered.clone(), range_end, place, scratch);
        }
        scratch.dense_starts = starts;
        self.search_hits(text, filtered.end..region.end, range_end, place, scratch);
    }

    /// Confirms, one at a time, the hits that start in `region` of `text` and whose heads end
    /// by `range_end`.
    fn search_hits(
        &self,
        text: &[u8],
        region: Range<usize>,
        range_end: usize,
        place: Place,
        scratch: &mut Scratch,
    ) {
        if region.is_empty() {
            return;
        }
        self.head_search
            .for_each(text, region.start..range_end, region.end, |start, head| {
                self.confirm_hit(text, start, head, place, scratch);
            });
    }
}
