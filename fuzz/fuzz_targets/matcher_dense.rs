//! Differential: the matcher with the dense filter (regions dense with anchor hits read by one
//! reverse automaton, `snapsift-match`'s `dense`) against the same matcher confirming every
//! hit, with the built-in rules. The input is a recipe: each byte picks a piece (one of the
//! rules' anchors, examples or negative examples, whole or cut short) or is written as it is;
//! the result is repeated to 40 KiB, so that the anchor search finds it dense, and searched
//! whole and in two chunks cut where the input says. Both matchers must report the same
//! matches. Needs a CPU with AVX2 (elsewhere there is no dense filter, and it checks nothing).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use snapsift_match::{Match, Matcher, RuleSet};

/// The single bytes a recipe may write: separators, token characters, NUL and a high byte.
const BYTES: &[u8] = b"\n =:\"'/@;,AZaz09+-_.\0\xff";

/// Haystack size: past the dense filter's shortest region.
const SIZE: usize = 40 << 10;

struct Setup {
    on: Matcher,
    off: Matcher,
    pieces: Vec<Vec<u8>>,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let set = RuleSet::builtin().expect("the built-in rules load");
        let on = Matcher::new(&set)
            .expect("the built-in rules compile")
            .with_dense_min_region(0);
        let off = Matcher::new(&set)
            .expect("the built-in rules compile")
            .with_dense_filter(false);
        let mut pieces = Vec::new();
        for (rule, r) in on.rules().iter().enumerate() {
            pieces.extend(on.anchors(rule).iter().cloned());
            for example in r.examples.iter().chain(&r.negative_examples) {
                let bytes = example.as_bytes();
                pieces.push(bytes.to_vec());
                pieces.push(bytes[..bytes.len() / 2].to_vec());
                pieces.push(bytes[..bytes.len().saturating_sub(1)].to_vec());
            }
        }
        Setup { on, off, pieces }
    })
}

fn find(matcher: &Matcher, haystack: &[u8], cut: usize) -> (Vec<Match>, Vec<Match>) {
    let mut scratch = matcher.scratch();
    let mut whole = Vec::new();
    matcher.find_in(haystack, 0..haystack.len(), &mut scratch, &mut whole);
    let mut chunked = Vec::new();
    matcher.find_in(haystack, 0..cut, &mut scratch, &mut chunked);
    matcher.find_in(haystack, cut..haystack.len(), &mut scratch, &mut chunked);
    (whole, chunked)
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, recipe)) = data.split_first() else {
        return;
    };
    let setup = setup();
    let mut unit = Vec::new();
    for &b in recipe {
        if b < 0xc0 {
            unit.extend_from_slice(&setup.pieces[usize::from(b) * 7 % setup.pieces.len()]);
        } else {
            unit.push(BYTES[usize::from(b - 0xc0) % BYTES.len()]);
        }
    }
    if unit.is_empty() {
        return;
    }
    let haystack: Vec<u8> = unit.iter().copied().cycle().take(SIZE).collect();
    let cut = usize::from(cut) * SIZE / 256;
    let (whole, chunked) = find(&setup.on, &haystack, cut);
    let (whole_off, chunked_off) = find(&setup.off, &haystack, cut);
    assert_eq!(whole, whole_off, "searched whole");
    assert_eq!(chunked, chunked_off, "in two chunks cut at {cut}");
    assert_eq!(whole, chunked, "chunking changed the matches");
});
