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
//! checks = ["aws-key-id", "placeholder"]  # offline checks a match must pass (see `checks`)
//! # supersedes = ["private-key.pkcs8"] # matches of these rules inside one of this rule's go
//! # [rule.pair]                         # this rule's matches are IDs whose secret half is
//! # secret = "aws.secret-access-key"    #   found by another rule: one finding when the two
//! # within = 1024                       #   lie within this many bytes of each other
//! examples = ["aws_access_key_id = AKIA..."]
//! negative_examples = ["AKIA-not-a-key"]
//! ```
//!
//! Patterns are byte-oriented regexes (`regex-syntax` syntax with Unicode off: `.` and classes
//! match bytes, `\b` and `\w` are ASCII). Every pattern must begin with literal text: the
//! literals a match can start with are extracted from the pattern and become the rule's
//! anchors (see [`crate::Matcher`]). Anchors are found in any ASCII case and the regex decides
//! which casings count, so a keyword that may be written in any casing is written `(?i:password)`
//! (one anchor), and one that must be written as it is, plainly.
//!
//! A pattern may name one capture group `secret`: the finding's secret is then that group (the
//! value of `password = value`), and the rest of the match is the evidence around it. Without
//! it, the whole match is the secret.
//!
//! Every rule also finds its matches written as UTF-16LE text (see [`crate::Matcher`]).

use serde::{Deserialize, Serialize};

use crate::RuleError;
use crate::checks::Check;

/// The rule pack compiled into snapsift: one file per provider family under `rules/` (see
/// `rules/README.md`), as `(family, text)`, in the order the pack runs them. Rule order breaks
/// ties where two rules report the same secret, so the families of vendors' own formats come
/// first and `generic` (a keyword and any value) last.
pub const BUILTIN_FAMILIES: &[(&str, &str)] = &[
    ("aws", include_str!("../rules/aws.toml")),
    ("alibaba", include_str!("../rules/alibaba.toml")),
    ("private-keys", include_str!("../rules/private-keys.toml")),
    ("databases", include_str!("../rules/databases.toml")),
    ("tencent", include_str!("../rules/tencent.toml")),
    ("huawei", include_str!("../rules/huawei.toml")),
    ("gcp", include_str!("../rules/gcp.toml")),
    ("azure", include_str!("../rules/azure.toml")),
    ("github", include_str!("../rules/github.toml")),
    ("gitlab", include_str!("../rules/gitlab.toml")),
    ("slack", include_str!("../rules/slack.toml")),
    ("stripe", include_str!("../rules/stripe.toml")),
    ("npm", include_str!("../rules/npm.toml")),
    ("pypi", include_str!("../rules/pypi.toml")),
    ("docker", include_str!("../rules/docker.toml")),
    ("huggingface", include_str!("../rules/huggingface.toml")),
    ("openai", include_str!("../rules/openai.toml")),
    ("anthropic", include_str!("../rules/anthropic.toml")),
    ("sendgrid", include_str!("../rules/sendgrid.toml")),
    ("shopify", include_str!("../rules/shopify.toml")),
    ("digitalocean", include_str!("../rules/digitalocean.toml")),
    ("system", include_str!("../rules/system.toml")),
    ("urls", include_str!("../rules/urls.toml")),
    ("kubernetes", include_str!("../rules/kubernetes.toml")),
    ("generic", include_str!("../rules/generic.toml")),
];

/// How likely a match of a rule is a real, usable secret (serialized by its
/// [`as_str`](Confidence::as_str) name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
    /// One level more certain (high stays high).
    pub fn raised(self) -> Confidence {
        match self {
            Confidence::Low => Confidence::Medium,
            Confidence::Medium | Confidence::High => Confidence::High,
        }
    }

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
    /// The offline checks a match must pass to be reported, in the order they run; written
    /// `name` or `name:argument` (see [`crate::checks`]).
    #[serde(default, deserialize_with = "parse_checks")]
    pub checks: Vec<Check>,
    /// Ids of rules whose matches lying inside a match of this rule are not reported: this
    /// rule says more about those bytes (a cloud service-account file holds a private key).
    #[serde(default)]
    pub supersedes: Vec<String>,
    /// For a rule that finds the ID half of a credential: where its secret half is found.
    #[serde(default)]
    pub pair: Option<Pairing>,
    /// Texts in which the rule must find a match.
    pub examples: Vec<String>,
    /// Texts in which the rule must find nothing.
    pub negative_examples: Vec<String>,
    /// The family the rule belongs to: the name of its file under `rules/` for a built-in
    /// rule, what [`RuleSet::in_family`] names for others (empty until then).
    #[serde(skip)]
    pub family: String,
}

/// Reads a rule's `checks`: each names a known check.
fn parse_checks<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<Check>, D::Error> {
    let specs = Vec::<String>::deserialize(deserializer)?;
    specs
        .iter()
        .map(|spec| Check::parse(spec).map_err(serde::de::Error::custom))
        .collect()
}

/// How an ID rule's matches meet their secret halves (`[rule.pair]` in a rule file).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Pairing {
    /// The id of the rule that finds the secret half.
    pub secret: String,
    /// The largest distance in bytes between the ID's match and the secret's match (from the
    /// end of the first to the start of the second, in either order) for them to be a pair.
    pub within: u64,
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

/// The rules of one rule file's text.
fn parse(text: &str) -> Result<Vec<Rule>, RuleError> {
    let file: RuleFile = toml::from_str(text).map_err(|e| RuleError::Syntax(e.to_string()))?;
    Ok(file.rule)
}

impl RuleSet {
    /// The built-in rule pack: every family of [`BUILTIN_FAMILIES`], in order.
    pub fn builtin() -> Result<RuleSet, RuleError> {
        let mut rules = Vec::new();
        for (family, text) in BUILTIN_FAMILIES {
            let mut file = parse(text).map_err(|e| match e {
                RuleError::Syntax(message) => RuleError::Syntax(format!("{family}: {message}")),
                other => other,
            })?;
            for rule in &mut file {
                rule.family = (*family).to_owned();
            }
            rules.append(&mut file);
        }
        RuleSet::new(rules)
    }

    /// Parses a rule file; its rules belong to no family until [`RuleSet::in_family`] names one.
    pub fn from_toml(text: &str) -> Result<RuleSet, RuleError> {
        RuleSet::new(parse(text)?)
    }

    /// This set with every rule in `family`.
    pub fn in_family(mut self, family: &str) -> RuleSet {
        for rule in &mut self.rules {
            rule.family = family.to_owned();
        }
        self
    }

    /// A set of `rules`, whose ids must be unique and whose references must resolve.
    fn new(rules: Vec<Rule>) -> Result<RuleSet, RuleError> {
        let mut seen = std::collections::HashSet::new();
        for rule in &rules {
            if !seen.insert(rule.id.as_str()) {
                return Err(RuleError::DuplicateId {
                    id: rule.id.clone(),
                });
            }
        }
        let set = RuleSet { rules };
        set.check_references()?;
        Ok(set)
    }

    /// This set with the rules of `other` added: a rule of `other` whose id is already here
    /// replaces that rule in place; the others come first, in their order. Rule order breaks
    /// ties where two rules report the same secret, so a user's own rules win over the pack's
    /// generic ones.
    pub fn with_overrides(mut self, other: RuleSet) -> Result<RuleSet, RuleError> {
        let mut added = Vec::new();
        for rule in other.rules {
            match self.rules.iter_mut().find(|r| r.id == rule.id) {
                Some(slot) => *slot = rule,
                None => added.push(rule),
            }
        }
        added.append(&mut self.rules);
        self.rules = added;
        self.check_references()?;
        Ok(self)
    }

    /// Only the rules `selectors` name, each an id (`aws.access-key-id`) or a family
    /// (`private-key.*`: every id beginning `private-key.`), in this set's order. A pairing or
    /// `supersedes` naming a rule left out is dropped with it: a selection asks for exactly
    /// these rules.
    pub fn only(mut self, selectors: &[String]) -> Result<RuleSet, RuleError> {
        let selects = |selector: &str, id: &str| match selector.strip_suffix('*') {
            Some(prefix) => id.starts_with(prefix),
            None => id == selector,
        };
        if let Some(unmatched) = selectors
            .iter()
            .find(|s| !self.rules.iter().any(|r| selects(s, &r.id)))
        {
            return Err(RuleError::NoSuchRule {
                selector: unmatched.clone(),
            });
        }
        self.rules
            .retain(|r| selectors.iter().any(|s| selects(s, &r.id)));
        let kept: Vec<String> = self.rules.iter().map(|r| r.id.clone()).collect();
        for rule in &mut self.rules {
            rule.supersedes.retain(|id| kept.contains(id));
            if rule
                .pair
                .as_ref()
                .is_some_and(|p| !kept.contains(&p.secret))
            {
                rule.pair = None;
            }
        }
        self.check_references()?;
        Ok(self)
    }

    /// Every rule named by a `pair` or `supersedes` exists.
    fn check_references(&self) -> Result<(), RuleError> {
        for rule in &self.rules {
            let named = rule
                .supersedes
                .iter()
                .chain(rule.pair.as_ref().map(|p| &p.secret));
            for id in named {
                if !self.rules.iter().any(|r| &r.id == id) {
                    return Err(RuleError::UnknownRule {
                        rule: rule.id.clone(),
                        named: id.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}
