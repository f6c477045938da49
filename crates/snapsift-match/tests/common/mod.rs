//! What the test binaries of this crate share.

use snapsift_match::{AnchorSearch, Assessment, Matcher, RuleSet};

/// What the built-in rules make of `text` with the anchor search `search`: for each match,
/// the rule, the secret and its assessment by the rule's checks (the path a disk scan takes).
pub fn assess(text: &str, search: AnchorSearch) -> Vec<(String, String, Assessment)> {
    let set = RuleSet::builtin().unwrap();
    let matcher = Matcher::with_anchor_search(&set, search).unwrap();
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    matcher.find_in(bytes, 0..bytes.len(), &mut matcher.scratch(), &mut found);
    found
        .iter()
        .map(|m| {
            let rule = &matcher.rules()[m.rule];
            let matched = matcher.text_of(bytes, m);
            let secret = &matched[m.secret_in_text()];
            (
                rule.id.clone(),
                String::from_utf8_lossy(secret).into_owned(),
                rule.assess(&matched, secret),
            )
        })
        .collect()
}
