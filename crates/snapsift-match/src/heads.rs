//! The literals the anchor search looks for, and how the portable search splits them into
//! SIMD passes (the fast one, `teddy16`, takes them all in one).
//!
//! `aho-corasick`'s Teddy searcher is what lets the matcher skip through bytes at several GB/s,
//! and its speed depends on three things, measured on the benchmark disk's bytes (one thread):
//! * how many literals one pass holds: up to 32 it runs "slim", 32 bytes per step (about
//!   9 GB/s for 32 literals); up to 64 "fat", 16 bytes per step (about 3.5 GB/s); past 64 it
//!   is not used at all and a byte-at-a-time automaton is several times slower still;
//! * how many leading bytes it fingerprints: the shortest literal of the pass, up to 4. One
//!   3-byte literal makes the whole pass match more positions it then has to verify;
//! * how often the literals occur: each hit costs a return from the searcher (about 50 ns).
//!
//! So the anchor search looks for *heads*: the rules' anchors, with anchors that share their
//! first 4 bytes cut to their shared prefix (`-----BEGIN ` for every PEM rule, `http` for
//! `http://` and `https://`). That never makes a head shorter than 4 bytes, so it never
//! weakens a pass's fingerprint, and it keeps the count down. Heads are then split into passes
//! of at most [`LITERALS_PER_PASS`], those shorter than 4 bytes in passes of their own.
//! Only when that takes more than [`MAX_PASSES`] passes are heads cut further, longest shared
//! prefixes first and never below [`MIN_HEAD_LEN`] bytes.
//!
//! Cutting an anchor to a prefix never loses a match: every position where the anchor occurs
//! also starts with its prefix. At a head's hit the matcher first compares the anchors that
//! begin with it (cheap), and runs a rule's regex only where one of its anchors is there.
//!
//! Anchors and heads are in lower case and found in any ASCII case (`password` finds
//! `PassWord` and `PASSWORD`): a keyword is written in every casing by someone, and one folded
//! head serves them all where writing each casing out would multiply the heads. The rule's
//! regex decides which casings it accepts.
//!
//! UTF-16LE text is not searched with UTF-16LE heads: that would double the literals. It is
//! found by `utf16_runs`, read one byte per character, and searched with these same heads.

use std::ops::Range;

/// The most literals in one pass that keeps Teddy on its 32-bytes-per-step form.
pub(crate) const LITERALS_PER_PASS: usize = 32;

/// How many leading bytes Teddy fingerprints at most; anchors sharing this many are merged.
const FINGERPRINT_LEN: usize = 4;

/// Above this many passes, heads are cut below [`FINGERPRINT_LEN`] bytes to need fewer.
const MAX_PASSES: usize = 4;

/// Heads shorter than this match too often to be worth verifying one by one.
const MIN_HEAD_LEN: usize = 3;

/// One literal every match of one rule begins with.
#[derive(Clone, Debug)]
pub(crate) struct Anchor {
    /// The literal's bytes, in lower case: it is found in any ASCII case.
    pub(crate) bytes: Vec<u8>,
    /// The rule it belongs to.
    pub(crate) rule: usize,
}

/// A rule to confirm at a head's hit, if one of its anchors is there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// The rule.
    pub(crate) rule: usize,
    /// The rule's anchors that begin with the head (the head itself where it is one).
    pub(crate) anchors: Vec<Vec<u8>>,
    /// Whether the head is one of the anchors: then every hit of the head is one of the rule's.
    pub(crate) head_is_anchor: bool,
}

impl Candidate {
    /// Whether one of the anchors begins `text`, in any ASCII case; `text` begins with the
    /// head.
    pub(crate) fn is_at(&self, text: &[u8]) -> bool {
        self.head_is_anchor
            || self.anchors.iter().any(|a| {
                text.get(..a.len())
                    .is_some_and(|t| t.eq_ignore_ascii_case(a))
            })
    }
}

/// What the anchor search looks for.
#[derive(Debug)]
pub(crate) struct Heads {
    /// The heads, in lower case and sorted; none is a prefix of another, so at most one
    /// matches at any position.
    pub(crate) texts: Vec<Vec<u8>>,
    /// For each head, the rules with an anchor that begins with it, by rule.
    pub(crate) candidates: Vec<Vec<Candidate>>,
}

impl Heads {
    /// The heads for `anchors` (see the module docs), in lower case whatever the anchors'.
    pub(crate) fn new(anchors: &[Anchor]) -> Heads {
        let anchors: Vec<Anchor> = anchors
            .iter()
            .map(|a| Anchor {
                bytes: a.bytes.to_ascii_lowercase(),
                rule: a.rule,
            })
            .collect();
        let whole = minimal(anchors.iter().map(|a| a.bytes.clone()).collect());
        let merged = cut(whole, FINGERPRINT_LEN, |_| false);
        let texts = cut(merged, MIN_HEAD_LEN, |t| passes(t).len() <= MAX_PASSES);
        let candidates = texts
            .iter()
            .map(|head| {
                let mut of: Vec<Candidate> = Vec::new();
                for a in anchors.iter().filter(|a| a.bytes.starts_with(head)) {
                    let is_head = a.bytes == *head;
                    match of.iter_mut().find(|c| c.rule == a.rule) {
                        Some(c) => {
                            c.head_is_anchor |= is_head;
                            if !c.anchors.contains(&a.bytes) {
                                c.anchors.push(a.bytes.clone());
                            }
                        }
                        None => of.push(Candidate {
                            rule: a.rule,
                            anchors: vec![a.bytes.clone()],
                            head_is_anchor: is_head,
                        }),
                    }
                }
                of.sort_unstable_by_key(|c| c.rule);
                of
            })
            .collect();
        Heads { texts, candidates }
    }

    /// The passes: indices of [`Heads::texts`], at most [`LITERALS_PER_PASS`] each.
    pub(crate) fn passes(&self) -> Vec<Vec<usize>> {
        passes(&self.texts)
    }
}

/// Splits `texts` into passes: the short ones (under [`FINGERPRINT_LEN`] bytes) apart from the
/// others, each kind in as few passes of at most [`LITERALS_PER_PASS`] as it needs, filled
/// evenly, in sorted order (Teddy shares its buckets best among literals that begin alike).
fn passes(texts: &[Vec<u8>]) -> Vec<Vec<usize>> {
    let (short, long): (Vec<usize>, Vec<usize>) =
        (0..texts.len()).partition(|&i| texts[i].len() < FINGERPRINT_LEN);
    let mut out = Vec::new();
    for kind in [long, short] {
        let count = kind.len().div_ceil(LITERALS_PER_PASS);
        for n in 0..count {
            let range: Range<usize> = kind.len() * n / count..kind.len() * (n + 1) / count;
            out.push(kind[range].to_vec());
        }
    }
    out
}

/// `texts` (minimal, sorted) with the pairs sharing the longest prefixes cut to that prefix,
/// until `done` says so or no two share `min_len` bytes.
fn cut(mut texts: Vec<Vec<u8>>, min_len: usize, done: impl Fn(&[Vec<u8>]) -> bool) -> Vec<Vec<u8>> {
    while !done(&texts) {
        // Sorted, the pair sharing the longest prefix is adjacent.
        let best = texts
            .windows(2)
            .enumerate()
            .map(|(i, w)| (shared_len(&w[0], &w[1]), i))
            .filter(|&(len, _)| len >= min_len)
            .max_by_key(|&(len, i)| (len, std::cmp::Reverse(i)));
        let Some((len, i)) = best else { break };
        let shared = texts[i][..len].to_vec();
        texts.splice(i..i + 2, [shared]);
        texts = minimal(texts);
    }
    texts
}

/// How many leading bytes `a` and `b` share.
fn shared_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// `texts` sorted, without duplicates, and without any text that has another as a prefix
/// (the shorter finds every position the longer would).
pub(crate) fn minimal(mut texts: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
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
        }
    }

    #[test]
    fn anchors_sharing_four_bytes_share_a_head_and_prefixes_absorb_longer_ones() {
        let heads = Heads::new(&[
            anchor("AKIA", 0),
            anchor("ASIA", 0),
            anchor("AKIAX", 1),
            anchor("mysql://", 2),
            anchor("mysqlx://", 2),
        ]);
        assert_eq!(heads.texts, [&b"akia"[..], b"asia", b"mysql"]);
        assert_eq!(
            heads.candidates[0],
            [
                Candidate {
                    rule: 0,
                    anchors: vec![b"akia".to_vec()],
                    head_is_anchor: true,
                },
                Candidate {
                    rule: 1,
                    anchors: vec![b"akiax".to_vec()],
                    head_is_anchor: false,
                }
            ]
        );
        assert_eq!(heads.candidates[2][0].anchors.len(), 2);
        assert!(heads.candidates[2][0].is_at(b"mysqlx://h"));
        assert!(
            heads.candidates[2][0].is_at(b"MySQLX://h"),
            "any ASCII case"
        );
        assert!(!heads.candidates[2][0].is_at(b"mysqldump"));
        assert!(
            !heads.candidates[2][0].is_at(b"mysql"),
            "shorter than the anchor"
        );
    }

    #[test]
    fn short_heads_get_passes_of_their_own_and_no_pass_is_too_big() {
        let mut anchors: Vec<Anchor> = (0..70).map(|i| anchor(&format!("L{i:02}x"), i)).collect();
        anchors.extend((0..5).map(|i| anchor(&format!("s{i}_"), 100 + i)));
        anchors[0] = anchor("hf_", 0);
        let heads = Heads::new(&anchors);
        let passes = heads.passes();
        assert_eq!(passes.len(), 4, "{passes:?}");
        for pass in &passes {
            assert!(pass.len() <= LITERALS_PER_PASS);
            let short = pass.iter().filter(|&&i| heads.texts[i].len() < 4).count();
            assert!(short == 0 || short == pass.len(), "mixed pass {pass:?}");
        }
        let mut all: Vec<usize> = passes.concat();
        all.sort_unstable();
        assert_eq!(all, (0..heads.texts.len()).collect::<Vec<_>>());
    }

    #[test]
    fn too_many_heads_are_cut_to_fit_but_every_anchor_keeps_exactly_one() {
        let anchors: Vec<Anchor> = (0..300)
            .map(|i| anchor(&format!("t{:03}_{i}", i % 200), i))
            .collect();
        let heads = Heads::new(&anchors);
        assert!(heads.passes().len() <= MAX_PASSES, "{}", heads.texts.len());
        for a in &anchors {
            let owners: Vec<usize> = (0..heads.texts.len())
                .filter(|&h| a.bytes.starts_with(&heads.texts[h]))
                .collect();
            assert_eq!(owners.len(), 1, "{:?}", String::from_utf8_lossy(&a.bytes));
            let c = heads.candidates[owners[0]]
                .iter()
                .find(|c| c.rule == a.rule)
                .expect("the anchor's rule is a candidate of its head");
            assert!(c.is_at(&a.bytes));
        }
        assert!(heads.texts.iter().all(|h| h.len() >= MIN_HEAD_LEN));
    }
}
