//! `Matcher::find_in` keeps its overlap contract: cutting the input into spans with
//! `context_len` bytes of context on each side finds exactly what one whole search finds.

use snapsift_match::{AnchorSearch, Encoding, Matcher, RuleSet};

use crate::common::{chunked, find};

fn matcher() -> Matcher {
    Matcher::new(&RuleSet::builtin().unwrap()).unwrap()
}

/// Every positive example of every rule, as written and as UTF-16LE text, separated by filler
/// text and zero blocks.
fn corpus(matcher: &Matcher) -> Vec<u8> {
    let mut hay = Vec::new();
    for (i, rule) in matcher.rules().iter().enumerate() {
        for example in &rule.examples {
            hay.extend_from_slice(b"log line: ");
            hay.extend_from_slice(example.as_bytes());
            hay.extend_from_slice(b"\n");
            let line = format!("utf-16 line: {example}\r\n");
            hay.extend(line.encode_utf16().flat_map(u16::to_le_bytes));
            if i % 3 == 0 {
                hay.extend(std::iter::repeat_n(0u8, 9000));
            }
        }
    }
    hay
}

#[test]
fn the_fast_and_the_portable_anchor_search_find_the_same_matches() {
    let rules = RuleSet::builtin().unwrap();
    let fast = Matcher::with_anchor_search(&rules, AnchorSearch::Fastest).unwrap();
    let portable = Matcher::with_anchor_search(&rules, AnchorSearch::Portable).unwrap();
    assert_eq!(portable.anchor_search_name(), "aho-corasick");
    // Without AVX2 the fastest search is the portable one: this would compare it with itself.
    if !snapsift_match::testing::has_avx2() {
        snapsift_match::testing::unavailable("this CPU has no AVX2: teddy16 cannot run");
        return;
    }
    assert_eq!(fast.anchor_search_name(), "teddy16");
    // The corpus, and the corpus with every example's text in other case: the fast search
    // holds case variants of a head in one bucket, and must not confuse them.
    let mut hay = corpus(&fast);
    let flipped: Vec<u8> = hay
        .iter()
        .map(|b| match b {
            b'a'..=b'z' => b.to_ascii_uppercase(),
            b'A'..=b'Z' => b.to_ascii_lowercase(),
            _ => *b,
        })
        .collect();
    hay.extend(flipped);
    let found = find(&fast, &hay);
    assert!(found.len() > 100, "{} matches", found.len());
    assert_eq!(found, find(&portable, &hay));
    assert_eq!(chunked(&fast, &hay, 4096), find(&portable, &hay));
}

#[test]
fn chunked_search_equals_whole_search() {
    let matcher = matcher();
    let hay = corpus(&matcher);
    let expected = find(&matcher, &hay);
    let examples: usize = matcher.rules().iter().map(|r| r.examples.len()).sum();
    let wide = expected
        .iter()
        .filter(|m| m.encoding == Encoding::Utf16Le)
        .count();
    assert!(wide >= examples, "{wide} UTF-16LE matches < {examples}");
    // Some examples hold two keys (an encrypted and a plain one in one string do not occur,
    // but each example is at least one finding).
    assert!(
        expected.len() >= examples,
        "{} < {examples}",
        expected.len()
    );
    for chunk in [333, 1000, 4096, 9001, 65536] {
        assert_eq!(
            chunked(&matcher, &hay, chunk),
            expected,
            "chunk size {chunk}"
        );
    }
}

#[test]
fn a_jdbc_uri_is_one_finding_not_two() {
    let matcher = matcher();
    let hay = b"url=jdbc:mysql://app:Zq81kLmN0pQr@db-one.internal:3306/app\n";
    let found = find(&matcher, hay);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(&hay[found[0].start..found[0].start + 5], b"jdbc:");
    // Even when the span starts after "jdbc:", inside the outer match, the inner URI is not
    // reported on its own.
    let mut out = Vec::new();
    matcher.find_in(hay, 9..hay.len(), &mut matcher.scratch(), &mut out);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn matches_at_the_very_start_and_end_of_the_input() {
    let matcher = matcher();
    let key = b"AKIAQ2W3E4R5T6Y7U2I3";
    let found = find(&matcher, key);
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].start, found[0].end), (0, key.len()));
}

#[test]
fn anchors_that_overlap_or_nest_hide_nothing() {
    let rules = RuleSet::from_toml(
        r#"
[[rule]]
id = "short"
name = "short anchor"
confidence = "low"
pattern = 'AKIA[A-Z0-9]{5}'
examples = ["AKIAX1234"]
negative_examples = []

[[rule]]
id = "long"
name = "long anchor, the short one is its prefix"
confidence = "low"
pattern = 'AKIAX[0-9]{4}'
examples = ["AKIAX1234"]
negative_examples = []

[[rule]]
id = "inner"
name = "anchor starting inside another anchor"
confidence = "low"
pattern = 'IAX1[0-9]{3}'
examples = ["AKIAX1234"]
negative_examples = []
"#,
    )
    .unwrap();
    let matcher = Matcher::new(&rules).unwrap();
    let found = find(&matcher, b"AKIAX1234");
    let ids: Vec<&str> = found
        .iter()
        .map(|m| matcher.rules()[m.rule].id.as_str())
        .collect();
    assert_eq!(ids, ["short", "long", "inner"]);
}
