//! The one error type of the matcher crate.

/// Why a rule file could not be loaded or compiled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// The rule file is not valid TOML or does not have the rule file's shape.
    #[error("invalid rule file: {0}")]
    Syntax(String),
    /// Two rules share an id.
    #[error("rule id {id:?} is defined twice")]
    DuplicateId {
        /// The id.
        id: String,
    },
    /// A rule names (in `pair` or `supersedes`) a rule the set does not have.
    #[error("rule {rule} names rule {named:?}, which is not defined")]
    UnknownRule {
        /// The rule's id.
        rule: String,
        /// The id it names.
        named: String,
    },
    /// A selection of rules ([`crate::RuleSet::only`]) names no rule of the set.
    #[error("no rule is {selector:?} (see `snapsift rules list`)")]
    NoSuchRule {
        /// The rule id, or `family.*`, that matched nothing.
        selector: String,
    },
    /// A rule's pattern does not parse or compile.
    #[error("rule {rule}: invalid pattern: {message}")]
    Pattern {
        /// The rule's id.
        rule: String,
        /// What the regex parser or compiler said.
        message: String,
    },
    /// A rule's pattern does not begin with a finite set of literals to anchor the search on.
    #[error(
        "rule {rule}: the pattern must begin with literal text (such as `AKIA` or \
         `-----BEGIN `) so that matches can be anchored; found none"
    )]
    Unanchored {
        /// The rule's id.
        rule: String,
    },
    /// One of a rule's anchors is too short to be selective, or contains a NUL byte.
    #[error("rule {rule}: anchor {anchor:?} {reason}")]
    BadAnchor {
        /// The rule's id.
        rule: String,
        /// The anchor, lossily decoded.
        anchor: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A rule's matches have no length bound, or one larger than the matcher allows.
    #[error("rule {rule}: {reason}")]
    Length {
        /// The rule's id.
        rule: String,
        /// What is wrong with the length.
        reason: String,
    },
    /// The anchor automaton could not be built.
    #[error("cannot build the anchor automaton: {0}")]
    Automaton(String),
}
