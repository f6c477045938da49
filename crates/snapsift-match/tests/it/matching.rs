//! What a match reports beyond its place: the secret group, UTF-16LE text, and rules that
//! supersede others.

use snapsift_match::{AnchorSearch, Encoding, Matcher, RuleSet};

use crate::common::find;

fn matcher(toml: &str) -> Matcher {
    Matcher::new(&RuleSet::from_toml(toml).unwrap()).unwrap()
}

fn wide(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

const PASSWORD_RULE: &str = r#"
[[rule]]
id = "password"
name = "password assignment"
confidence = "medium"
pattern = '(?:password|PASSWORD) {0,4}= {0,4}(?P<secret>[A-Za-z0-9]{8,64})\b'
examples = ["password = hunter2hunter2"]
negative_examples = ["password ="]
"#;

#[test]
fn the_secret_group_is_the_secret() {
    let m = matcher(PASSWORD_RULE);
    let hay = b"x; PASSWORD = Zx81kLmN0pQr # db";
    let found = find(&m, hay);
    assert_eq!(found.len(), 1);
    let text = m.text_of(hay, &found[0]);
    assert_eq!(&text[..], b"PASSWORD = Zx81kLmN0pQr");
    assert_eq!(&text[found[0].secret_in_text()], b"Zx81kLmN0pQr");
    assert_eq!(
        &hay[found[0].secret_start..found[0].secret_end],
        b"Zx81kLmN0pQr"
    );
}

#[test]
fn utf16le_text_is_matched_and_read_back_as_text() {
    let m = matcher(PASSWORD_RULE);
    let mut hay = b"\xff\xfe".to_vec();
    hay.extend(wide("[db]\r\npassword = Zx81kLmN0pQr\r\n"));
    let found = find(&m, &hay);
    assert_eq!(found.len(), 1, "{found:?}");
    let f = found[0];
    assert_eq!(f.encoding, Encoding::Utf16Le);
    assert_eq!(&hay[f.start..f.end], wide("password = Zx81kLmN0pQr"));
    assert_eq!(&hay[f.secret_start..f.secret_end], wide("Zx81kLmN0pQr"));
    let text = m.text_of(&hay, &f);
    assert_eq!(&text[..], b"password = Zx81kLmN0pQr");
    assert_eq!(&text[f.secret_in_text()], b"Zx81kLmN0pQr");
}

#[test]
fn utf16le_look_around_sees_the_neighbouring_characters() {
    let m = matcher(PASSWORD_RULE);
    // `\b` after the secret: a longer run of word characters than the class allows is no
    // match, in either encoding.
    let long = format!("password = {}", "a1".repeat(40));
    assert!(find(&m, long.as_bytes()).is_empty());
    assert!(find(&m, &wide(&long)).is_empty());
    // A non-ASCII character ends the UTF-16 text the regex sees; to `\b` it is a non-word
    // character, as its UTF-8 bytes are.
    let accented = "password = Zx81kLmN0pQré";
    assert_eq!(find(&m, accented.as_bytes()).len(), 1);
    assert_eq!(find(&m, &wide(accented)).len(), 1);
    // A word character before the keyword is seen as it is in ASCII.
    let glued = "xpassword = Zx81kLmN0pQr";
    let rule = r"(?:password|PASSWORD) {0,4}= {0,4}(?P<secret>[A-Za-z0-9]{8,64})\b";
    let bounded = matcher(&PASSWORD_RULE.replace(rule, &format!(r"\b{rule}")));
    assert!(find(&bounded, glued.as_bytes()).is_empty());
    assert!(find(&bounded, &wide(glued)).is_empty());
    assert_eq!(find(&bounded, &wide(&glued[1..])).len(), 1);
}

#[test]
fn a_superseding_rule_hides_the_matches_inside_its_own() {
    let toml = r#"
[[rule]]
id = "inner"
name = "a token"
confidence = "high"
pattern = 'tok_[a-z0-9]{8}'
examples = ["tok_abcd1234"]
negative_examples = ["tok_"]

[[rule]]
id = "outer"
name = "a file holding a token"
confidence = "high"
pattern = '\{"kind": "svc", "token": "tok_[a-z0-9]{8}"\}'
supersedes = ["inner"]
examples = ['{"kind": "svc", "token": "tok_abcd1234"}']
negative_examples = ['{"kind": "svc"}']
"#;
    let m = matcher(toml);
    let ids = |hay: &[u8]| -> Vec<String> {
        find(&m, hay)
            .iter()
            .map(|f| m.rules()[f.rule].id.clone())
            .collect()
    };
    assert_eq!(
        ids(br#"{"kind": "svc", "token": "tok_abcd1234"}"#),
        ["outer"]
    );
    assert_eq!(ids(br#"{"token": "tok_abcd1234"}"#), ["inner"]);
}

#[test]
fn many_rules_share_few_heads() {
    let mut toml = String::new();
    for i in 0..150 {
        toml.push_str(&format!(
            "[[rule]]\nid = \"r{i}\"\nname = \"r\"\nconfidence = \"low\"\npattern = 'pre{:03}_[a-z]{{8}}'\nexamples = []\nnegative_examples = []\n",
            i
        ));
    }
    let m = matcher(&toml);
    // Anchors sharing their first 4 bytes share a head: pre0, pre1.
    assert_eq!(m.head_count(), 2, "{} heads", m.head_count());
    assert_eq!(m.head_passes(), 1);
    // Every rule is still found, in both encodings.
    for i in [0, 77, 149] {
        let text = format!("x pre{i:03}_abcdefgh y");
        let found = find(&m, text.as_bytes());
        assert_eq!(found.len(), 1, "{text}");
        assert_eq!(m.rules()[found[0].rule].id, format!("r{i}"));
        assert_eq!(find(&m, &wide(&text)).len(), 1, "{text} as UTF-16LE");
    }
}

#[test]
fn more_distinct_anchors_than_one_automaton_takes_are_all_found() {
    // 100 rules whose anchors share no 3-byte prefix: they stay 100 heads, searched in several
    // passes of at most 32 by the portable search and in one by the fast one; every rule is
    // still found, in both encodings, by both.
    let mut toml = String::new();
    let names: Vec<String> = (0..100)
        .map(|i| {
            let a = (b'a' + (i / 26) as u8) as char;
            let b = (b'a' + (i % 26) as u8) as char;
            format!("{a}{b}Q")
        })
        .collect();
    for (i, name) in names.iter().enumerate() {
        toml.push_str(&format!(
            "[[rule]]\nid = \"r{i}\"\nname = \"r\"\nconfidence = \"low\"\npattern = '{name}_[0-9]{{6}}'\nexamples = []\nnegative_examples = []\n"
        ));
    }
    let mut text = String::new();
    for name in &names {
        text.push_str(&format!("{name}_123456 "));
    }
    let set = RuleSet::from_toml(&toml).unwrap();
    if !snapsift_match::testing::has_avx2() {
        snapsift_match::testing::unavailable("this CPU has no AVX2: teddy16 is untested here");
    }
    for kind in [AnchorSearch::Portable, AnchorSearch::Fastest] {
        let m = Matcher::with_anchor_search(&set, kind).unwrap();
        if kind == AnchorSearch::Fastest && snapsift_match::testing::has_avx2() {
            assert_eq!(m.anchor_search_name(), "teddy16");
        }
        assert_eq!(m.head_count(), 100);
        let passes = match m.anchor_search_name() {
            "teddy16" => 1,
            _ => 4,
        };
        assert_eq!(m.head_passes(), passes, "{kind:?}");
        let found = find(&m, text.as_bytes());
        assert_eq!(found.len(), 100, "{kind:?}");
        let ids: std::collections::BTreeSet<usize> = found.iter().map(|f| f.rule).collect();
        assert_eq!(ids.len(), 100, "{kind:?}");
        assert_eq!(find(&m, &wide(&text)).len(), 100, "{kind:?}");
    }
}
