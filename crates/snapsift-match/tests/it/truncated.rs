//! A match longer than its rule's `max_len` is reported cut there, marked `truncated`, never
//! dropped: the same whatever the confirmation, the encoding and the chunking; and a flood of
//! headers without their end is one cut match (each header starts inside the cut match of the
//! one before), found at a bounded cost per byte.

use snapsift_match::{Confirmation, Encoding, Match, Matcher, RuleSet};

use crate::common::{chunked, find};

const BEGIN: &str = "-----BEGIN PGP PRIVATE KEY BLOCK-----";
const END: &str = "-----END PGP PRIVATE KEY BLOCK-----";

/// The `pgp.private-key` rule's reach: its `max_len`.
const REACH: usize = 65536;

/// An armored block of about `body_len` characters of base64 lines, after some filler text.
fn armored(body_len: usize) -> (usize, String) {
    let mut text = String::from("filler before the key\n");
    let start = text.len();
    text.push_str(BEGIN);
    text.push_str("\n\n");
    let line: String = (0..64)
        .map(|i| b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i] as char)
        .collect();
    while text.len() - start < body_len {
        text.push_str(&line);
        text.push('\n');
    }
    text.push_str("=AbCd\n");
    text.push_str(END);
    text.push_str("\nfiller after the key\n");
    (start, text)
}

fn wide(text: &[u8]) -> Vec<u8> {
    text.iter().flat_map(|&b| [b, 0]).collect()
}

fn matchers() -> Vec<Matcher> {
    let set = RuleSet::builtin().unwrap();
    [
        Confirmation::Shared,
        Confirmation::SharedOnly,
        Confirmation::Plain,
    ]
    .into_iter()
    .map(|c| Matcher::new(&set).unwrap().with_confirmation(c))
    .collect()
}

/// The `pgp.private-key` matches.
fn pgp(matcher: &Matcher, found: Vec<Match>) -> Vec<Match> {
    found
        .into_iter()
        .filter(|m| matcher.rules()[m.rule].id == "pgp.private-key")
        .collect()
}

#[test]
fn a_block_longer_than_its_rule_is_reported_cut() {
    let (start, text) = armored(70 * 1024);
    for matcher in matchers() {
        let found = pgp(&matcher, find(&matcher, text.as_bytes()));
        assert_eq!(found.len(), 1, "{found:?}");
        let m = found[0];
        assert!(m.truncated);
        assert_eq!((m.start, m.end), (start, start + REACH));
        assert_eq!((m.secret_start, m.secret_end), (m.start, m.end));
        assert_eq!(m.encoding, Encoding::Utf8);
        // As UTF-16LE text: cut at as many characters, twice the bytes.
        let found = pgp(&matcher, find(&matcher, &wide(text.as_bytes())));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].truncated);
        assert_eq!(found[0].encoding, Encoding::Utf16Le);
        assert_eq!(
            (found[0].start, found[0].end),
            (2 * start, 2 * (start + REACH))
        );
    }
}

#[test]
fn a_block_within_its_rule_is_whole_and_not_cut() {
    let (start, text) = armored(60 * 1024);
    for matcher in matchers() {
        let found = pgp(&matcher, find(&matcher, text.as_bytes()));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(!found[0].truncated);
        assert_eq!(found[0].start, start);
        assert!(text[..found[0].end].ends_with(END));
    }
}

#[test]
fn a_block_cut_by_the_end_of_the_input_is_no_match() {
    // Not longer than the rule: it ends, unfinished, where the input does.
    let (_, text) = armored(30 * 1024);
    let cut = &text.as_bytes()[..text.len() / 2];
    for matcher in matchers() {
        assert_eq!(pgp(&matcher, find(&matcher, cut)), []);
    }
}

#[test]
fn cut_matches_do_not_depend_on_the_chunking() {
    let mut hay = Vec::new();
    for body in [70 * 1024, 1000, 100 * 1024, 60 * 1024] {
        hay.extend_from_slice(armored(body).1.as_bytes());
    }
    let hay = [hay.clone(), wide(&hay)].concat();
    let matcher = Matcher::new(&RuleSet::builtin().unwrap()).unwrap();
    let whole = find(&matcher, &hay);
    let cut = whole.iter().filter(|m| m.truncated).count();
    // 70 and 100 KiB, as written and as UTF-16LE.
    assert_eq!(cut, 4, "{whole:?}");
    for chunk in [4096, 65536, 100_000] {
        assert_eq!(chunked(&matcher, &hay, chunk), whole, "chunk {chunk}");
    }
}

#[test]
fn a_flood_of_headers_is_one_cut_match_at_a_bounded_cost() {
    // Every header is inside the cut match of the one before it: the flood is one match.
    let line = format!("{BEGIN}\n");
    let small = line.repeat(6000);
    for matcher in matchers() {
        let found = find(&matcher, small.as_bytes());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].truncated);
        assert_eq!((found[0].start, found[0].end), (0, REACH));
    }
    // The shared confirmation (the default) reads a bounded number of bytes per byte, as the
    // `matcher_slow` fuzz target demands; the plain one reads each hit's whole reach.
    let hay = line.repeat(4 << 20 >> 5);
    for matcher in &matchers()[..2] {
        let mut scratch = matcher.scratch();
        let mut found = Vec::new();
        matcher.find_in(hay.as_bytes(), 0..hay.len(), &mut scratch, &mut found);
        assert_eq!(found.len(), 1, "{found:?}");
        let per_byte = scratch.confirmation_work() / hay.len() as u64;
        assert!(per_byte <= 64, "{per_byte} bytes read per byte");
    }
}
