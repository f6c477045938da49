//! What the test binaries of this crate share.

use snapsift_match::{AnchorSearch, Assessment, Match, Matcher, RuleSet};

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

/// The matches of `hay` found in one search of the whole of it.
pub fn find(matcher: &Matcher, hay: &[u8]) -> Vec<Match> {
    let mut out = Vec::new();
    matcher.find_in(hay, 0..hay.len(), &mut matcher.scratch(), &mut out);
    out
}

/// The matches of `hay` found in spans of `chunk` bytes with the overlap contract's context
/// (`context_len` bytes on each side), with offsets in `hay`.
pub fn chunked(matcher: &Matcher, hay: &[u8], chunk: usize) -> Vec<Match> {
    let ctx = matcher.context_len();
    let mut scratch = matcher.scratch();
    let mut all = Vec::new();
    let mut start = 0;
    while start < hay.len() {
        let end = (start + chunk).min(hay.len());
        let (lo, hi) = (start.saturating_sub(ctx), (end + ctx).min(hay.len()));
        let mut out = Vec::new();
        matcher.find_in(&hay[lo..hi], start - lo..end - lo, &mut scratch, &mut out);
        all.extend(out.into_iter().map(|m| Match {
            start: m.start + lo,
            end: m.end + lo,
            secret_start: m.secret_start + lo,
            secret_end: m.secret_end + lo,
            ..m
        }));
        start = end;
    }
    all
}
