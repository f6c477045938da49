//! Running every rule's examples through the whole matcher.

use crate::{Encoding, Matcher};

/// One example that did not behave as its rule says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExampleFailure {
    /// The rule's id.
    pub rule: String,
    /// The example text.
    pub example: String,
    /// `true` for an example the rule should match, `false` for a negative example.
    pub positive: bool,
    /// The encoding the example was written in when it misbehaved.
    pub encoding: Encoding,
}

impl std::fmt::Display for ExampleFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.positive {
            "does not match its example"
        } else {
            "matches its negative example"
        };
        let encoding = match self.encoding {
            Encoding::Utf8 => "",
            Encoding::Utf16Le => " written as UTF-16LE",
        };
        write!(f, "rule {} {what} {:?}{encoding}", self.rule, self.example)
    }
}

/// Runs each rule's `examples` and `negative_examples` through `matcher` (heads, regex and
/// containment, the same path a disk scan takes), as written and as UTF-16LE text, and returns
/// every example that misbehaves. A match its rule's checks reject counts as no match.
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
            let wide: Vec<u8> = example.encode_utf16().flat_map(u16::to_le_bytes).collect();
            for (bytes, encoding) in [
                (example.as_bytes(), Encoding::Utf8),
                (&wide[..], Encoding::Utf16Le),
            ] {
                found.clear();
                matcher.find_in(bytes, 0..bytes.len(), &mut scratch, &mut found);
                // A match counts if its rule's checks let it through.
                let matched = found.iter().any(|m| {
                    let text = matcher.text_of(bytes, m);
                    let secret = &text[m.secret_in_text()];
                    m.rule == index
                        && m.encoding == encoding
                        && rule.assess(&text, secret).is_valid()
                });
                if matched != positive {
                    failures.push(ExampleFailure {
                        rule: rule.id.clone(),
                        example: example.clone(),
                        positive,
                        encoding,
                    });
                }
            }
        }
    }
    failures
}
