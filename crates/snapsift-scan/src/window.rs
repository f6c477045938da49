//! [`WindowScanner`]: one thread's matcher state, turning a window of bytes into findings.

use std::ops::Range;

use snapsift_match::{Encoding, Match, Matcher, Scratch};

use crate::Finding;
use crate::finding::{CONTEXT_RADIUS, Context};

/// Windows extend this far beyond their owned range on each side: the matcher's context
/// (longest match and look-around) plus the finding's context line (twice as many bytes for
/// UTF-16LE text), rounded up to whole pages so
/// that windows of page-aligned chunks stay page-aligned for direct device reads.
pub(crate) fn overlap(matcher: &Matcher) -> u64 {
    const PAGE: u64 = 4096;
    let needed = u64::try_from(
        matcher
            .context_len()
            .saturating_add(CONTEXT_RADIUS.saturating_mul(2)),
    )
    .unwrap_or(u64::MAX);
    needed.div_ceil(PAGE).saturating_mul(PAGE)
}

/// A scanning thread's matcher scratch and match buffer.
pub(crate) struct WindowScanner<'m> {
    matcher: &'m Matcher,
    scratch: Scratch,
    matches: Vec<Match>,
}

impl<'m> WindowScanner<'m> {
    pub(crate) fn new(matcher: &'m Matcher) -> Self {
        WindowScanner {
            matcher,
            scratch: matcher.scratch(),
            matches: Vec::new(),
        }
    }

    /// The findings that start in `owned` of `window`, whose first byte is at disk offset
    /// `window_start`. The window must hold [`overlap`] bytes around `owned` (or reach the
    /// disk's edge).
    pub(crate) fn scan(
        &mut self,
        window: &[u8],
        window_start: u64,
        owned: Range<usize>,
    ) -> Vec<Finding<'m>> {
        self.matches.clear();
        self.matcher
            .find_in(window, owned, &mut self.scratch, &mut self.matches);
        let rules = self.matcher.rules();
        self.matches
            .iter()
            .map(|m| Finding {
                rule: &rules[m.rule],
                // A match lies within the window, itself within the disk.
                offset: window_start.saturating_add(m.start as u64),
                encoding: m.encoding,
                text: self.matcher.text_of(window, m).into_owned(),
                secret: m.secret_in_text(),
                context: match m.encoding {
                    Encoding::Utf8 => Context::around(window, m.start..m.end),
                    Encoding::Utf16Le => Context::around_utf16(window, m.start..m.end),
                }
                .focus(m.secret_in_text()),
                truncated: m.truncated,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapsift_match::{MAX_RULE_LEN, Rule, RuleSet};

    /// The longest match `rule` can report, in characters, worked out here from the rule
    /// itself rather than asked of the matcher: its `max_len`, else its pattern's longest match.
    fn longest_match(rule: &Rule) -> usize {
        rule.max_len.unwrap_or_else(|| {
            regex_syntax::ParserBuilder::new()
                .unicode(false)
                .utf8(false)
                .build()
                .parse(&rule.pattern)
                .unwrap()
                .properties()
                .maximum_len()
                .unwrap()
        })
    }

    /// The overlap of a scan with `set` in force covers, for every rule, its longest match
    /// written as UTF-16LE (two bytes a character), one character of look-around past it, and
    /// the context line around it, in whole pages. Returns the overlap.
    fn assert_covers_every_rule(set: &RuleSet) -> u64 {
        let overlap = overlap(&Matcher::new(set).unwrap());
        assert_eq!(overlap % 4096, 0, "{overlap} is not whole pages");
        for rule in set.rules() {
            let needed = 2 * (longest_match(rule) + 1) + 2 * CONTEXT_RADIUS;
            assert!(
                overlap >= needed as u64,
                "rule {}: overlap {overlap} < {needed}",
                rule.id
            );
        }
        overlap
    }

    /// A rule file (`--rules FILE`) with one rule `id` reaching `max_len` characters.
    fn user_rules(id: &str, max_len: usize) -> RuleSet {
        RuleSet::from_toml(&format!(
            r#"
[[rule]]
id = "{id}"
name = "a long blob"
confidence = "low"
pattern = 'BLOB-BEGIN[A-Za-z0-9]{{16,}}?BLOB-END'
max_len = {max_len}
examples = []
negative_examples = []
"#
        ))
        .unwrap()
    }

    #[test]
    fn the_overlap_covers_every_built_in_rule() {
        let builtin = RuleSet::builtin().unwrap();
        assert!(
            builtin
                .rules()
                .iter()
                .any(|r| r.max_len == Some(MAX_RULE_LEN))
        );
        assert_covers_every_rule(&builtin);
    }

    #[test]
    fn the_overlap_covers_user_rules_with_the_built_in_ones() {
        // A user rule as long as a rule may be, beside the built-in ones.
        let set = RuleSet::builtin()
            .unwrap()
            .with_overrides(user_rules("user.longest", MAX_RULE_LEN))
            .unwrap();
        assert!(set.rules().iter().any(|r| r.id == "user.longest"));
        assert_covers_every_rule(&set);
    }

    #[test]
    fn the_overlap_follows_the_rules_in_force() {
        // Short rules alone make a short overlap; a longer rule in force, a longer one.
        let short = assert_covers_every_rule(&user_rules("user.short", 100));
        let long = assert_covers_every_rule(&user_rules("user.long", 20_000));
        assert!(short < long, "{short} {long}");
    }
}
