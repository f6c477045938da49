//! Running every rule's examples through the whole matcher.

use crate::Matcher;

/// One example that did not behave as its rule says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExampleFailure {
    /// The rule's id.
    pub rule: String,
    /// The example text.
    pub example: String,
    /// `true` for an example the rule should match, `false` for a negative example.
    pub positive: bool,
}

impl std::fmt::Display for ExampleFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.positive {
            "does not match its example"
        } else {
            "matches its negative example"
        };
        write!(f, "rule {} {what} {:?}", self.rule, self.example)
    }
}

/// Runs each rule's `examples` and `negative_examples` through `matcher` (anchors, regex and
/// containment, the same path a disk scan takes) and returns every example that misbehaves.
pub fn check_examples(matcher: &Matcher) -> Vec<ExampleFailure> {
    let mut scratch = matcher.scratch();
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for (index, rule) in matcher.rules().iter().enumerate() {
        let cases = rule
            .examples
            .iter()
            .map(|e| (e, true))
            .chain(rule.negative_examples.iter().map(|e| (e, false)));
        for (example, positive) in cases {
            found.clear();
            let bytes = example.as_bytes();
            matcher.find_in(bytes, 0..bytes.len(), &mut scratch, &mut found);
            let matched = found.iter().any(|m| m.rule == index);
            if matched != positive {
                failures.push(ExampleFailure {
                    rule: rule.id.clone(),
                    example: example.clone(),
                    positive,
                });
            }
        }
    }
    failures
}
