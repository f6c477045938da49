//! How sure a match is: its rule's offline checks, run on the match's text.

use crate::checks::{Evidence, Fact, Verdict};
use crate::published::Published;
use crate::{Confidence, Rule};

/// What a rule's checks say of one match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assessment {
    /// How likely the match is a real, usable secret: the rule's confidence, one level higher
    /// when a check that validates structure (a checksum, a key body that parses) passed.
    pub confidence: Confidence,
    /// The names of the checks the match passed, in the order they ran.
    pub passed: Vec<&'static str>,
    /// What the checks learned (an AWS account ID, a key's type).
    pub facts: Vec<Fact>,
    /// The check that turned the match away, if one did: such a match is not a finding
    /// unless rejected ones are asked for.
    pub rejected: Option<Rejection>,
}

/// Why a match was turned away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The check's name.
    pub check: &'static str,
    /// Why, for people (never the secret itself).
    pub reason: String,
}

impl Assessment {
    /// Whether every check passed.
    pub fn is_valid(&self) -> bool {
        self.rejected.is_none()
    }
}

impl Rule {
    /// Runs this rule's checks on a match whose text is `matched` and whose secret is
    /// `secret` (a part of `matched`). Checks run in order and stop at the first that fails;
    /// a secret that passes them all is still rejected if it is a published one (see the
    /// `published` module).
    pub fn assess(&self, matched: &[u8], secret: &[u8]) -> Assessment {
        self.assess_evidence(Evidence {
            matched,
            secret,
            truncated: false,
        })
    }

    /// [`Rule::assess`] for a match that may have been cut at the rule's `max_len`
    /// ([`crate::Match::truncated`]): a cut one has the fact `truncated: true`, and its
    /// block checks check what the cut block shows (see [`crate::checks::Evidence`]).
    pub fn assess_evidence(&self, evidence: Evidence<'_>) -> Assessment {
        let secret = evidence.secret;
        let mut assessment = Assessment {
            confidence: self.confidence,
            passed: Vec::new(),
            facts: Vec::new(),
            rejected: None,
        };
        if evidence.truncated {
            assessment.facts.push(Fact::new("truncated", "true"));
        }
        let mut validated = false;
        for check in &self.checks {
            match check.run(&evidence) {
                Verdict::Passed(facts) => {
                    assessment.passed.push(check.name());
                    assessment.facts.extend(facts);
                    validated |= check.validates();
                }
                Verdict::Failed(reason) => {
                    assessment.rejected = Some(Rejection {
                        check: check.name(),
                        reason,
                    });
                    return assessment;
                }
            }
        }
        if let Some(source) = Published::builtin().source_of(secret) {
            assessment.rejected = Some(Rejection {
                check: "published",
                reason: format!("published in widely distributed software: {source}"),
            });
            return assessment;
        }
        if validated {
            assessment.confidence = assessment.confidence.raised();
        }
        assessment
    }
}
