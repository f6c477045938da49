//! Regions dense with anchor hits go to one automaton pass (the dense filter) instead of one
//! confirmation per hit: it must find exactly what confirming every hit finds, on bytes made
//! of each built-in rule's anchors and examples, whole, cut short and mixed, in both
//! encodings, and wherever the haystack is cut into chunks.

use snapsift_match::{Match, Matcher, RuleSet};

/// A small deterministic generator (xorshift), so failures replay.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Haystack size: past the dense filter's shortest region as the tests set it (twice the
/// longest reach of a filtered rule, about 16 KiB) with room for regions to start and end.
const SIZE: usize = 40 * 1024;

/// The two matchers: dense filter on and off. `None` (after saying so) without AVX2, where
/// there is no dense filter: a failure under `CI=true`.
fn matchers() -> Option<(Matcher, Matcher)> {
    let set = RuleSet::builtin().unwrap();
    let on = Matcher::new(&set).unwrap().with_dense_min_region(0);
    if !on.dense_filter() {
        assert!(
            !snapsift_match::testing::has_avx2(),
            "teddy16 has the filter"
        );
        snapsift_match::testing::unavailable("this CPU has no AVX2: no dense filter to test");
        return None;
    }
    let off = Matcher::new(&set).unwrap().with_dense_filter(false);
    assert!(!off.dense_filter());
    Some((on, off))
}

/// Every match of `matcher` in `haystack`, searched whole and in chunks of `chunk` bytes (each
/// with the whole haystack around it as context), and the positions that went to the filter.
fn find(matcher: &Matcher, haystack: &[u8], chunk: usize) -> (Vec<Match>, Vec<Match>, u64) {
    let mut scratch = matcher.scratch();
    let mut whole = Vec::new();
    matcher.find_in(haystack, 0..haystack.len(), &mut scratch, &mut whole);
    let mut chunked = Vec::new();
    let mut at = 0;
    while at < haystack.len() {
        let end = (at + chunk).min(haystack.len());
        matcher.find_in(haystack, at..end, &mut scratch, &mut chunked);
        at = end;
    }
    (whole, chunked, scratch.dense_positions())
}

/// The pieces haystacks are made of for one rule: its anchors, alone and followed by
/// separators, its examples and negative examples, whole and cut short.
fn pieces(matcher: &Matcher, rule: usize) -> Vec<Vec<u8>> {
    let mut pieces = Vec::new();
    let separators: [&[u8]; 8] = [b"", b"\n", b" ", b"=", b":", b"\"", b"a1", b"user:pass@"];
    for anchor in matcher.anchors(rule) {
        for separator in separators {
            pieces.push([anchor, separator].concat());
            pieces.push([&anchor.to_ascii_uppercase()[..], separator].concat());
        }
    }
    let r = &matcher.rules()[rule];
    for example in r.examples.iter().chain(&r.negative_examples) {
        let bytes = example.as_bytes();
        pieces.push(bytes.to_vec());
        for cut in [
            bytes.len() / 2,
            bytes.len() * 9 / 10,
            bytes.len().saturating_sub(1),
        ] {
            if cut > 0 {
                pieces.push(bytes[..cut].to_vec());
            }
        }
    }
    pieces
}

/// Haystacks for one rule: each of a few pieces repeated, and random mixtures of all of them
/// with the other rules' pieces and noise, in bytes and as UTF-16LE.
fn haystacks(rng: &mut Rng, own: &[Vec<u8>], all: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for _ in 0..2 {
        let unit = &own[rng.below(own.len())];
        if !unit.is_empty() {
            out.push(unit.iter().copied().cycle().take(SIZE).collect());
        }
    }
    for round in 0..2 {
        let mut hay = Vec::with_capacity(SIZE + 256);
        // Plain text at the start and end of some, so that dense regions begin and end
        // inside the haystack.
        let margin = if round == 0 { 0 } else { rng.below(6000) };
        while hay.len() < margin {
            hay.push(b"the quick brown fox \n"[rng.below(21)]);
        }
        while hay.len() < SIZE - margin {
            match rng.below(10) {
                0..=5 => hay.extend_from_slice(&own[rng.below(own.len())]),
                6 | 7 => hay.extend_from_slice(&all[rng.below(all.len())]),
                8 => hay.push(b"\n =:\"'/@;,"[rng.below(10)]),
                _ => {
                    let n = rng.below(12);
                    hay.extend((0..n).map(|_| b"AZaz09+/=-_."[rng.below(12)]));
                }
            }
        }
        while hay.len() < SIZE {
            hay.push(b"lorem ipsum \n"[rng.below(13)]);
        }
        out.push(hay);
    }
    let wide: Vec<u8> = out[out.len() - 1]
        .iter()
        .take(SIZE / 2)
        .flat_map(|&b| [b, 0])
        .collect();
    out.push(wide);
    out
}

#[test]
fn the_dense_filter_finds_what_confirming_every_hit_finds() {
    let Some((on, off)) = matchers() else {
        return;
    };
    let mut rng = Rng(0xde75_e5ee);
    let rules = on.rules().len();
    let per_rule: Vec<Vec<Vec<u8>>> = (0..rules).map(|rule| pieces(&on, rule)).collect();
    let all: Vec<Vec<u8>> = per_rule.iter().flatten().cloned().collect();
    let mut dense_positions = 0;
    let mut matches = 0;
    for (rule, own) in per_rule.iter().enumerate() {
        for (i, hay) in haystacks(&mut rng, own, &all).iter().enumerate() {
            let chunk = 4096 + rng.below(20_000);
            let (whole_on, chunked_on, positions) = find(&on, hay, chunk);
            let (whole_off, chunked_off, off_positions) = find(&off, hay, chunk);
            let id = &on.rules()[rule].id;
            assert_eq!(off_positions, 0, "the filter is off");
            assert_eq!(whole_on, whole_off, "{id}, haystack {i}, searched whole");
            assert_eq!(
                chunked_on, chunked_off,
                "{id}, haystack {i}, chunks of {chunk}"
            );
            assert_eq!(
                chunked_on, whole_on,
                "{id}, haystack {i}: chunking changed it"
            );
            dense_positions += positions;
            matches += whole_on.len();
        }
    }
    // The comparison means something only if the filter ran, over matches.
    assert!(
        dense_positions > (rules * SIZE) as u64,
        "only {dense_positions} positions went to the dense filter"
    );
    assert!(matches > 10_000, "only {matches} matches");
}

#[test]
fn a_flood_of_one_anchor_goes_to_the_filter_and_sparse_secrets_do_not() {
    let Some((on, _)) = matchers() else {
        return;
    };
    let flood: Vec<u8> = b"AKIA ".iter().copied().cycle().take(SIZE).collect();
    let mut scratch = on.scratch();
    let mut out = Vec::new();
    on.find_in(&flood, 0..flood.len(), &mut scratch, &mut out);
    assert!(out.is_empty());
    assert!(
        scratch.dense_positions() > (SIZE / 2) as u64,
        "{} of {SIZE} positions went to the filter",
        scratch.dense_positions()
    );
    // Prose with a secret every kilobyte: every hit is confirmed alone.
    let mut text = Vec::new();
    let mut n = 0;
    while text.len() < SIZE {
        while text.len() < (n + 1) * 1024 {
            text.extend_from_slice(b"The quick brown fox jumps over the lazy dog. ");
        }
        text.extend_from_slice(format!("\npassword = Tr0ub4dor{n}x\n").as_bytes());
        n += 1;
    }
    let mut scratch = on.scratch();
    out.clear();
    on.find_in(&text, 0..text.len(), &mut scratch, &mut out);
    assert_eq!(out.len(), n, "one password per kilobyte");
    assert_eq!(scratch.dense_positions(), 0);
}
