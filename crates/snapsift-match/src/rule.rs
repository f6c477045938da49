//! Rules as data: the rule file format and the built-in pack.
//!
//! A rule file is TOML with one `[[rule]]` table per rule:
//!
//! ```toml
//! [[rule]]
//! id = "aws.access-key-id"            # stable, unique, used in output
//! name = "AWS access key ID"          # for people
//! confidence = "high"                 # low | medium | high
//! pattern = '''\b(?:AKIA|ASIA)[A-Z2-7]{16}\b'''
//! # max_len = 4096                    # only for patterns whose length is unbounded
//! examples = ["aws_access_key_id = AKIA..."]
//! negative_examples = ["AKIA-not-a-key"]
//! ```
//!
//! Patterns are byte-oriented regexes (`regex-syntax` syntax with Unicode off: `.` and classes
//! match bytes, `\b` and `\w` are ASCII). Every pattern must begin with literal text: the
//! literals a match can start with are extracted from the pattern and become the rule's
//! anchors (see [`crate::Matcher`]).

use serde::Deserialize;

use crate::RuleError;

/// The rule pack compiled into snapsift.
pub const BUILTIN_RULES: &str = include_str!("../rules/builtin.toml");

/// How likely a match of a rule is a real, usable secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Plausible, but the shape alone is weak evidence.
    Low,
    /// The shape is specific; placeholders and look-alikes are possible.
    Medium,
    /// The shape is specific enough that a match is almost always a real secret.
    High,
}

impl Confidence {
    /// The lowercase name used in rule files and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// One detection rule, as written in a rule file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable identifier, unique within a rule set, such as `aws.access-key-id`.
    pub id: String,
    /// Human-readable name, such as `AWS access key ID`.
    pub name: String,
    /// How sure a match of this rule is.
    pub confidence: Confidence,
    /// The byte-oriented regex a secret matches; it must begin with literal text.
    pub pattern: String,
    /// The longest match the rule can report, required when the pattern's own length is
    /// unbounded (a match longer than this is not found).
    #[serde(default)]
    pub max_len: Option<usize>,
    /// Texts in which the rule must find a match.
    pub examples: Vec<String>,
    /// Texts in which the rule must find nothing.
    pub negative_examples: Vec<String>,
}

/// An ordered list of rules with unique ids.
#[derive(Clone, Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    rule: Vec<Rule>,
}

impl RuleSet {
    /// The built-in rule pack.
    pub fn builtin() -> Result<RuleSet, RuleError> {
        RuleSet::from_toml(BUILTIN_RULES)
    }

    /// Parses a rule file.
    pub fn from_toml(text: &str) -> Result<RuleSet, RuleError> {
        let file: RuleFile = toml::from_str(text).map_err(|e| RuleError::Syntax(e.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        for rule in &file.rule {
            if !seen.insert(rule.id.as_str()) {
                return Err(RuleError::DuplicateId {
                    id: rule.id.clone(),
                });
            }
        }
        Ok(RuleSet { rules: file.rule })
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}
