//! The literals the anchor automaton searches for: each rule's anchors, in every encoding the
//! matcher reads, cut short where that keeps the automaton on its fast path.
//!
//! `aho-corasick` runs its SIMD prefilter (Teddy) only for at most [`TEDDY_LIMIT`] patterns;
//! past that it falls back to a byte-at-a-time automaton several times slower. A full rule pack
//! has more anchors than that, and each is needed twice (as written and as UTF-16LE). So the
//! automaton searches *heads*: prefixes of the anchors, shared where anchors begin alike
//! (`-----BEGIN ` for every PEM rule). Cutting an anchor to a prefix never loses a match: every
//! position where the anchor occurs also starts with its prefix, and the rule's regex, run at
//! each head hit, decides. What it costs is more hits to confirm, so heads are cut only as far
//! as needed, longest shared prefixes first, and never below [`MIN_HEAD_LEN`] bytes.
//!
//! Where even that leaves more than 64 heads, they are searched in groups of at most 64, one
//! Teddy pass per group: a few SIMD passes are much faster than one byte-at-a-time automaton.
//! Heads are then cut only as far as the smallest number of groups needs.

use crate::Encoding;

/// The most patterns for which `aho-corasick` uses Teddy.
const TEDDY_LIMIT: usize = 64;

/// Heads shorter than this match too often to be worth confirming one by one.
const MIN_HEAD_LEN: usize = 3;

/// One literal of one rule, in one encoding.
#[derive(Clone, Debug)]
pub(crate) struct Anchor {
    /// The literal's bytes as they appear in the haystack.
    pub(crate) bytes: Vec<u8>,
    /// The rule it belongs to.
    pub(crate) rule: usize,
    /// How the rule's text is written where this literal matches.
    pub(crate) encoding: Encoding,
}

/// What the anchor automata search for.
#[derive(Debug)]
pub(crate) struct Heads {
    /// The heads, sorted; none is a prefix of another, so at most one matches at any position.
    pub(crate) texts: Vec<Vec<u8>>,
    /// For each head, the (rule, encoding) pairs with an anchor that begins with it.
    pub(crate) candidates: Vec<Vec<(usize, Encoding)>>,
}

impl Heads {
    /// The heads for `anchors`: as few cuts as keep their number within Teddy's limit, or
    /// within the fewest groups of that many that [`MIN_HEAD_LEN`] allows.
    pub(crate) fn new(anchors: &[Anchor]) -> Heads {
        let whole = minimal(anchors.iter().map(|a| a.bytes.clone()).collect());
        let fewest = cut(whole.clone(), TEDDY_LIMIT).len();
        let groups = fewest.div_ceil(TEDDY_LIMIT).max(1);
        let texts = cut(whole, groups.saturating_mul(TEDDY_LIMIT));
        let candidates = texts
            .iter()
            .map(|head| {
                let mut of: Vec<(usize, Encoding)> = anchors
                    .iter()
                    .filter(|a| a.bytes.starts_with(head))
                    .map(|a| (a.rule, a.encoding))
                    .collect();
                of.sort_unstable();
                of.dedup();
                of
            })
            .collect();
        Heads { texts, candidates }
    }

    /// The heads in groups of at most [`TEDDY_LIMIT`], as ranges of `texts`.
    pub(crate) fn groups(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        (0..self.texts.len())
            .step_by(TEDDY_LIMIT)
            .map(|start| start..start.saturating_add(TEDDY_LIMIT).min(self.texts.len()))
    }
}

/// `texts` (minimal, sorted) with the pairs sharing the longest prefixes cut to that prefix,
/// until at most `limit` remain or no two share [`MIN_HEAD_LEN`] bytes.
fn cut(mut texts: Vec<Vec<u8>>, limit: usize) -> Vec<Vec<u8>> {
    while texts.len() > limit {
        // Sorted, the pair sharing the longest prefix is adjacent.
        let best = texts
            .windows(2)
            .enumerate()
            .map(|(i, w)| (head_of(&w[0], &w[1]).len(), i))
            .filter(|&(len, _)| len >= MIN_HEAD_LEN)
            .max_by_key(|&(len, i)| (len, std::cmp::Reverse(i)));
        let Some((_, i)) = best else { break };
        let shared = head_of(&texts[i], &texts[i + 1]).to_vec();
        texts.splice(i..i + 2, [shared]);
        texts = minimal(texts);
    }
    texts
}

/// The common prefix of `a` and `b`, without trailing NUL bytes.
///
/// A head never ends in NUL: the matcher skips all-zero blocks, and a head whose last bytes
/// fell into one would be missed (see `zero`).
fn head_of<'a>(a: &'a [u8], b: &[u8]) -> &'a [u8] {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let mut head = &a[..common];
    while let [rest @ .., 0] = head {
        head = rest;
    }
    head
}

/// `texts` sorted, without duplicates, and without any text that has another as a prefix
/// (the shorter finds every position the longer would).
fn minimal(mut texts: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    texts.sort();
    texts.dedup();
    let mut kept: Vec<Vec<u8>> = Vec::with_capacity(texts.len());
    for text in texts {
        // Sorted order puts a prefix right before the texts it begins.
        if !kept.last().is_some_and(|k| text.starts_with(k)) {
            kept.push(text);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor(text: &str, rule: usize) -> Anchor {
        Anchor {
            bytes: text.as_bytes().to_vec(),
            rule,
            encoding: Encoding::Utf8,
        }
    }

    #[test]
    fn few_anchors_stay_whole_and_prefixes_absorb_longer_ones() {
        let heads = Heads::new(&[anchor("AKIA", 0), anchor("ASIA", 0), anchor("AKIAX", 1)]);
        assert_eq!(heads.texts, vec![b"AKIA".to_vec(), b"ASIA".to_vec()]);
        assert_eq!(
            heads.candidates[0],
            vec![(0, Encoding::Utf8), (1, Encoding::Utf8)]
        );
    }

    #[test]
    fn many_anchors_are_cut_to_shared_prefixes_within_the_limit() {
        let anchors: Vec<Anchor> = (0..100)
            .map(|i| anchor(&format!("tok{:02}_{i}", i % 40), i))
            .collect();
        let heads = Heads::new(&anchors);
        assert!(heads.texts.len() <= TEDDY_LIMIT, "{}", heads.texts.len());
        // Every anchor still begins with exactly one head, which lists its rule.
        for a in &anchors {
            let owners: Vec<usize> = (0..heads.texts.len())
                .filter(|&h| a.bytes.starts_with(&heads.texts[h]))
                .collect();
            assert_eq!(owners.len(), 1, "{:?}", String::from_utf8_lossy(&a.bytes));
            assert!(heads.candidates[owners[0]].contains(&(a.rule, Encoding::Utf8)));
        }
        assert!(heads.texts.iter().all(|h| h.len() >= MIN_HEAD_LEN));
    }

    #[test]
    fn heads_never_end_in_nul() {
        let wide = |s: &str| -> Vec<u8> { s.bytes().flat_map(|b| [b, 0]).collect() };
        let mut anchors = Vec::new();
        for i in 0..80 {
            let mut bytes = wide(&format!("K{}{}", (b'a' + (i % 26) as u8) as char, i));
            bytes.pop();
            anchors.push(Anchor {
                bytes,
                rule: i,
                encoding: Encoding::Utf16Le,
            });
        }
        let heads = Heads::new(&anchors);
        assert!(heads.texts.iter().all(|h| h.last() != Some(&0)));
        assert!(heads.texts.iter().all(|h| h.len() >= MIN_HEAD_LEN));
    }
}
