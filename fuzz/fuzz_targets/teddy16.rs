//! Differential: `teddy16`, the anchor search the matcher runs on CPUs with AVX2, against a
//! brute-force search and against the `aho-corasick` crate (all overlapping matches), on
//! random literal sets (1 to 300 literals of 1 to 16 bytes, over any byte or over a small
//! alphabet, so that they share prefixes, are case variants of each other and crowd the
//! buckets) and haystacks, with a random range and stop. All three must report the same
//! (position, literal) pairs, in any ASCII case (teddy16 ignores it); teddy16 in order of
//! position. Needs a CPU with AVX2.
#![no_main]

use aho_corasick::{AhoCorasick, MatchKind};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use snapsift_match::testing::Teddy16Search;

/// The small alphabet: letters in both cases, separators, NUL and a high byte.
const SMALL: &[u8] = b"aAbBsS:-_0\n\xff\0";

fuzz_target!(|data: &[u8]| {
    let mut input = Unstructured::new(data);
    let small: bool = input.arbitrary().unwrap_or(false);
    let byte = |b: u8| {
        if small {
            SMALL[usize::from(b) % SMALL.len()]
        } else {
            b
        }
    };
    let count = input.int_in_range(1..=300usize).unwrap_or(1);
    let mut literals: Vec<Vec<u8>> = Vec::with_capacity(count);
    for _ in 0..count {
        let len = input.int_in_range(1..=16usize).unwrap_or(1);
        let literal: Vec<u8> = (0..len)
            .map(|_| byte(input.arbitrary().unwrap_or(0)))
            .collect();
        literals.push(literal);
    }
    literals.sort();
    literals.dedup();
    let (a, b, stop): (u16, u16, u16) = input.arbitrary().unwrap_or((0, u16::MAX, u16::MAX));
    let text: Vec<u8> = input.take_rest().iter().map(|&b| byte(b)).collect();
    let at = |fraction: u16| text.len() * usize::from(fraction) / usize::from(u16::MAX);
    let range = at(a).min(at(b))..at(a).max(at(b));
    // The stop may lie past the range's end (the matcher's does).
    let stop = range.start + (range.len() + 40) * usize::from(stop) / usize::from(u16::MAX);

    let teddy = Teddy16Search::new(&literals).expect("teddy16 needs a CPU with AVX2");
    let mut found = teddy.find_all(&text, range.clone(), stop);
    assert!(
        found.is_sorted_by_key(|&(position, _)| position),
        "teddy16 reports out of order"
    );
    // Literals at one position come in no set order.
    found.sort_unstable();

    let text = &text[..range.end];
    let starts = range.start..stop.min(range.end);
    let brute: Vec<(usize, usize)> = starts
        .clone()
        .flat_map(|p| {
            literals
                .iter()
                .enumerate()
                .filter(move |(_, l)| {
                    text[p..]
                        .get(..l.len())
                        .is_some_and(|t| t.eq_ignore_ascii_case(l))
                })
                .map(move |(i, _)| (p, i))
        })
        .collect();
    assert_eq!(found, brute, "teddy16 against brute force");

    let automaton = AhoCorasick::builder()
        .match_kind(MatchKind::Standard)
        .ascii_case_insensitive(true)
        .build(&literals)
        .expect("an automaton of at most 300 short literals");
    let mut reference: Vec<(usize, usize)> = automaton
        .find_overlapping_iter(aho_corasick::Input::new(text).span(range.clone()))
        .map(|m| (m.start(), m.pattern().as_usize()))
        .filter(|(start, _)| starts.contains(start))
        .collect();
    reference.sort_unstable();
    assert_eq!(found, reference, "teddy16 against aho-corasick");
});
