//! Turning one [`Rule`] into what the matcher runs: its anchors, its regex and its length bound.

use regex_automata::hybrid::dfa::DFA;
use regex_automata::nfa::thompson;
use regex_automata::{MatchKind, meta};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Capture, Class, Hir, HirKind, Repetition};

use crate::gate::gate;
use crate::heads::minimal;
use crate::{Rule, RuleError};

/// The longest match any rule may report. It sets the overlap between chunks, so it is kept
/// well below a chunk (the longest PEM private key, 16384-bit RSA, is under 13 KiB).
pub const MAX_RULE_LEN: usize = 64 * 1024;

/// The name of the capture group that holds a rule's secret.
const SECRET_GROUP: &str = "secret";

/// The most anchors one rule may have: more means a class at the start of the pattern, which
/// would flood the automaton. (Case does not count: anchors are found in any ASCII case.)
const MAX_ANCHORS_PER_RULE: usize = 64;

/// The widest class the anchor extractor expands into separate literals.
const MAX_CLASS_EXPANSION: usize = 6;

/// Anchors shorter than this match too often to be worth confirming one by one.
const MIN_ANCHOR_LEN: usize = 3;

/// The longest count [`loosen`] keeps: enough for the token lengths (`{16}`, `{40}`) that
/// tell a key from its bare prefix, small enough that a reverse automaton counting them stays
/// a few dozen states.
const LOOSE_COUNT_CAP: u32 = 64;

/// The most case-exact prefixes a rule keeps (see `CompiledRule::exact_prefixes`): past that,
/// comparing them costs about what the regex does.
const MAX_EXACT_PREFIXES: usize = 8;

/// A rule ready to run.
#[derive(Debug)]
pub(crate) struct CompiledRule {
    /// Literals every match begins with in some ASCII case, in lower case; no two where one is
    /// a prefix of another.
    pub(crate) anchors: Vec<Vec<u8>>,
    /// The pattern, searched anchored at an anchor's position: for the secret group of a
    /// match, and for the plain confirmation.
    pub(crate) regex: meta::Regex,
    /// The pattern as an anchored leftmost-first lazy DFA: the same matches as `regex`,
    /// stepped by the matcher itself so that runs from nearby hits share work (see `runs`).
    pub(crate) strict: DFA,
    /// The pattern with every repetition made `*`, as an anchored all-matches lazy DFA: it
    /// matches wherever the pattern does and the furthest end it finds bounds the pattern's
    /// match (see `runs`).
    pub(crate) relaxed: DFA,
    /// The pattern the dense-region filter searches for (see `dense`): every repetition
    /// without its upper bound and with its lower bound capped, so that it matches wherever
    /// the rule does (and more) and its reverse automaton stays small.
    pub(crate) loosened: Hir,
    /// The longest match the rule reports, in characters.
    pub(crate) max_len: usize,
    /// The shortest match the rule can make, in characters.
    pub(crate) min_len: usize,
    /// The index of the capture group named `secret`, if the pattern has one.
    pub(crate) secret_group: Option<usize>,
    /// A byte every match contains beyond its anchor, if the rule has a gate (see `gate`).
    pub(crate) gate: Option<u8>,
    /// The literals every match begins with, in the pattern's own case, where there are at
    /// most [`MAX_EXACT_PREFIXES`]: anchors are found in any case, and a hit in a case the
    /// pattern does not accept (`-----begin rsa private key-----`) is ruled out by comparing
    /// these rather than by running the regex.
    pub(crate) exact_prefixes: Option<Vec<Vec<u8>>>,
    /// Whether each byte can occur in a match: a text holding a byte that cannot is not the
    /// beginning of a match that runs past it (see `dense`).
    pub(crate) alphabet: Box<[bool; 256]>,
    /// The literals every match ends with, where there are at most [`MAX_EXACT_PREFIXES`].
    pub(crate) suffixes: Option<Vec<Vec<u8>>>,
    /// Whether the pattern can match more than `max_len` characters (its `max_len` is set
    /// below the pattern's own bound): a match that reaches `max_len` is reported cut there.
    pub(crate) truncatable: bool,
}

impl CompiledRule {
    /// Whether a match may begin `text`: it begins with one of the rule's prefixes in the
    /// pattern's own case, or the rule has too many to tell.
    pub(crate) fn may_begin(&self, text: &[u8]) -> bool {
        self.exact_prefixes
            .as_ref()
            .is_none_or(|prefixes| prefixes.iter().any(|p| text.starts_with(p)))
    }
}

/// Parses, checks and compiles one rule.
pub(crate) fn compile(rule: &Rule) -> Result<CompiledRule, RuleError> {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(&rule.pattern)
        .map_err(|e| RuleError::Pattern {
            rule: rule.id.clone(),
            message: e.to_string(),
        })?;
    let max_len = match_len_bound(rule, &hir)?;
    let truncatable = hir
        .properties()
        .maximum_len()
        .is_none_or(|longest| longest > max_len);
    let anchors = anchors(rule, &hir)?;
    // Every match begins with an anchor, so it is at least as long as the shortest one.
    let shortest_anchor = anchors.iter().map(Vec::len).min().unwrap_or(MIN_ANCHOR_LEN);
    let min_len = hir
        .properties()
        .minimum_len()
        .unwrap_or(0)
        .max(shortest_anchor);
    let regex = meta::Builder::new()
        .configure(meta::Config::new().utf8_empty(false))
        .build_from_hir(&hir)
        .map_err(|e| RuleError::Pattern {
            rule: rule.id.clone(),
            message: e.to_string(),
        })?;
    let strict = lazy_dfa(rule, &hir, MatchKind::LeftmostFirst)?;
    let relaxed = lazy_dfa(rule, &relax(&hir), MatchKind::All)?;
    let loosened = loosen(&hir);
    let exact_prefixes = literals(&hir, ExtractKind::Prefix);
    let suffixes = literals(&hir, ExtractKind::Suffix);
    let mut alphabet = Box::new([false; 256]);
    mark_alphabet(&hir, &mut alphabet);
    let secret_group = regex
        .group_info()
        .to_index(regex_automata::PatternID::ZERO, SECRET_GROUP);
    Ok(CompiledRule {
        // A gate byte may lie past the cut of a match the rule reports cut.
        gate: if truncatable {
            None
        } else {
            gate(&hir, &anchors, max_len)
        },
        truncatable,
        exact_prefixes,
        suffixes,
        alphabet,
        anchors,
        regex,
        strict,
        relaxed,
        loosened,
        max_len,
        min_len,
        secret_group,
    })
}

/// `hir` as an anchored lazy DFA with match semantics `kind`.
fn lazy_dfa(rule: &Rule, hir: &Hir, kind: MatchKind) -> Result<DFA, RuleError> {
    let error = |message: String| RuleError::Pattern {
        rule: rule.id.clone(),
        message,
    };
    let nfa = thompson::Compiler::new()
        .configure(
            thompson::Config::new()
                .utf8(false)
                .which_captures(thompson::WhichCaptures::None),
        )
        .build_from_hir(hir)
        .map_err(|e| error(e.to_string()))?;
    DFA::builder()
        .configure(DFA::config().match_kind(kind))
        .build_from_nfa(nfa)
        .map_err(|e| error(e.to_string()))
}

/// `hir` with its literals in lower case and each class of exactly a letter's two cases (`[Pp]`,
/// as `(?i)` writes them) made that letter in lower case: what the anchors are extracted from,
/// since the anchor search ignores ASCII case. Only for extraction: it matches other strings.
fn fold_case(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Literal(literal) => Hir::literal(literal.0.to_ascii_lowercase()),
        HirKind::Class(class) => match letter_in_both_cases(class) {
            Some(letter) => Hir::literal([letter]),
            None => hir.clone(),
        },
        HirKind::Repetition(repetition) => Hir::repetition(Repetition {
            sub: Box::new(fold_case(&repetition.sub)),
            ..repetition.clone()
        }),
        HirKind::Capture(capture) => Hir::capture(Capture {
            sub: Box::new(fold_case(&capture.sub)),
            ..capture.clone()
        }),
        HirKind::Concat(parts) => Hir::concat(parts.iter().map(fold_case).collect()),
        HirKind::Alternation(branches) => {
            Hir::alternation(branches.iter().map(fold_case).collect())
        }
        HirKind::Empty | HirKind::Look(_) => hir.clone(),
    }
}

/// The lower-case letter, if `class` is exactly one ASCII letter in both cases.
fn letter_in_both_cases(class: &Class) -> Option<u8> {
    let members: Vec<u8> = match class {
        Class::Bytes(bytes) => {
            let mut members = Vec::new();
            for range in bytes.iter() {
                if usize::from(range.end() - range.start()) + members.len() >= 2 {
                    return None;
                }
                members.extend(range.start()..=range.end());
            }
            members
        }
        Class::Unicode(unicode) => {
            let mut members = Vec::new();
            for range in unicode.iter() {
                let (start, end) = (u32::from(range.start()), u32::from(range.end()));
                if (end - start) as usize + members.len() >= 2 || end > 0x7f {
                    return None;
                }
                members.extend((start..=end).map(|c| c as u8));
            }
            members
        }
    };
    match members[..] {
        [a, b] if a.is_ascii_alphabetic() && a.eq_ignore_ascii_case(&b) => {
            Some(a.to_ascii_lowercase())
        }
        _ => None,
    }
}

/// `hir` with every repetition that may count past [`LOOSE_COUNT_CAP`] made open-ended (its
/// lower bound capped at that), captures removed: it matches every text `hir` matches. Short
/// counts stay exact, because they decide most matches (`[A-Za-z0-9]{30}` followed by a
/// delimiter is no match in a run of 37); long ones (`{16,4000}`) would make the reverse
/// automaton count to thousands.
fn loosen(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Repetition(repetition) => {
            let short = repetition.max.is_some_and(|max| max <= LOOSE_COUNT_CAP);
            Hir::repetition(Repetition {
                min: repetition.min.min(LOOSE_COUNT_CAP),
                max: if short { repetition.max } else { None },
                greedy: repetition.greedy,
                sub: Box::new(loosen(&repetition.sub)),
            })
        }
        HirKind::Capture(capture) => loosen(&capture.sub),
        HirKind::Concat(parts) => Hir::concat(parts.iter().map(loosen).collect()),
        HirKind::Alternation(branches) => Hir::alternation(branches.iter().map(loosen).collect()),
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => hir.clone(),
    }
}

/// `hir` with every repetition made `*` and no capture groups: it matches every string `hir`
/// matches (each repetition still matches what it did), and its automaton has no counts.
fn relax(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Repetition(repetition) => Hir::repetition(Repetition {
            min: 0,
            max: None,
            greedy: true,
            sub: Box::new(relax(&repetition.sub)),
        }),
        HirKind::Capture(capture) => relax(&capture.sub),
        HirKind::Concat(parts) => Hir::concat(parts.iter().map(relax).collect()),
        HirKind::Alternation(branches) => Hir::alternation(branches.iter().map(relax).collect()),
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => hir.clone(),
    }
}

/// The rule's explicit `max_len`, else the pattern's own maximum length.
fn match_len_bound(rule: &Rule, hir: &Hir) -> Result<usize, RuleError> {
    let len = match (rule.max_len, hir.properties().maximum_len()) {
        (Some(explicit), _) => explicit,
        (None, Some(derived)) => derived,
        (None, None) => {
            return Err(RuleError::Length {
                rule: rule.id.clone(),
                reason: "the pattern's matches have no length bound; set max_len".into(),
            });
        }
    };
    if len == 0 || len > MAX_RULE_LEN {
        return Err(RuleError::Length {
            rule: rule.id.clone(),
            reason: format!("max_len {len} is outside 1..={MAX_RULE_LEN}"),
        });
    }
    Ok(len)
}

/// The literals every match of `hir` begins with (`Prefix`) or ends with (`Suffix`), in the
/// pattern's own case, if there are at most [`MAX_EXACT_PREFIXES`] and none is empty.
fn literals(hir: &Hir, kind: ExtractKind) -> Option<Vec<Vec<u8>>> {
    let seq = Extractor::new()
        .kind(kind)
        .limit_class(MAX_CLASS_EXPANSION)
        .extract(hir);
    let literals = seq.literals()?;
    if literals.is_empty()
        || literals.len() > MAX_EXACT_PREFIXES
        || literals.iter().any(|l| l.as_bytes().is_empty())
    {
        return None;
    }
    Some(literals.iter().map(|l| l.as_bytes().to_vec()).collect())
}

/// Marks in `alphabet` every byte that can occur in a match of `hir`.
fn mark_alphabet(hir: &Hir, alphabet: &mut [bool; 256]) {
    match hir.kind() {
        HirKind::Literal(literal) => {
            for &b in literal.0.iter() {
                alphabet[usize::from(b)] = true;
            }
        }
        HirKind::Class(Class::Bytes(bytes)) => {
            for range in bytes.iter() {
                for b in range.start()..=range.end() {
                    alphabet[usize::from(b)] = true;
                }
            }
        }
        HirKind::Class(Class::Unicode(unicode)) => {
            // The patterns are parsed without Unicode, so this is ASCII; a character past it
            // may be any of its UTF-8 bytes.
            for range in unicode.iter() {
                let (start, end) = (u32::from(range.start()), u32::from(range.end()));
                if end > 0x7f {
                    alphabet[0x80..].fill(true);
                }
                for c in start..=end.min(0x7f) {
                    alphabet[c as usize] = true;
                }
            }
        }
        HirKind::Repetition(repetition) => mark_alphabet(&repetition.sub, alphabet),
        HirKind::Capture(capture) => mark_alphabet(&capture.sub, alphabet),
        HirKind::Concat(parts) if never_matches(parts) => {}
        HirKind::Concat(parts) | HirKind::Alternation(parts) => {
            for part in parts {
                mark_alphabet(part, alphabet);
            }
        }
        HirKind::Empty | HirKind::Look(_) => {}
    }
}

/// Whether a concatenation asserts a word boundary and its absence at one place (`\b\B`):
/// the rules write `(?:[\x00-\xff]\b\B)?`, a branch that never matches, to end the prefix
/// extractor's literals, and its bytes are no part of any match.
fn never_matches(parts: &[Hir]) -> bool {
    use regex_syntax::hir::Look;
    parts
        .windows(2)
        .any(|pair| match (pair[0].kind(), pair[1].kind()) {
            (HirKind::Look(a), HirKind::Look(b)) => matches!(
                (a, b),
                (Look::WordAscii, Look::WordAsciiNegate) | (Look::WordAsciiNegate, Look::WordAscii)
            ),
            _ => false,
        })
}

/// The literal prefixes of the pattern, in lower case: every match starts with one of them in
/// some ASCII case.
///
/// `regex-syntax`'s prefix extractor gives a finite set of literals such that every match
/// begins with one of them (or reports that no such set exists). That property is what lets the
/// matcher look only at anchor positions without ever missing a match. Anchors are found in
/// any ASCII case, so the extractor is given the pattern with each letter's two cases made one
/// (see [`fold_case`]): `(?i)password` gives one anchor, not 256.
fn anchors(rule: &Rule, hir: &Hir) -> Result<Vec<Vec<u8>>, RuleError> {
    // Classes wider than a few bytes end the literals instead of multiplying them (`AKIA[0-9]`
    // gives one anchor, not ten): the regex checks the class at each hit anyway.
    let seq = Extractor::new()
        .kind(ExtractKind::Prefix)
        .limit_class(MAX_CLASS_EXPANSION)
        .extract(&fold_case(hir));
    let literals = seq.literals().ok_or_else(|| RuleError::Unanchored {
        rule: rule.id.clone(),
    })?;
    let anchors: Vec<Vec<u8>> = literals
        .iter()
        .map(|lit| lit.as_bytes().to_ascii_lowercase())
        .collect();
    let anchors = minimal(anchors);
    if anchors.is_empty() {
        return Err(RuleError::Unanchored {
            rule: rule.id.clone(),
        });
    }
    if anchors.len() > MAX_ANCHORS_PER_RULE {
        return Err(RuleError::BadAnchor {
            rule: rule.id.clone(),
            anchor: String::from_utf8_lossy(&anchors[0]).into_owned(),
            reason: "is one of more than 64 anchors; begin the pattern with fewer \
                     alternatives or classes",
        });
    }
    for anchor in &anchors {
        let reason = if anchor.len() < MIN_ANCHOR_LEN {
            Some("is shorter than 3 bytes; begin the pattern with more literal text")
        } else if anchor.contains(&0) {
            // The scanner skips all-zero blocks; an anchor with a NUL could straddle one.
            Some("contains a NUL byte")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(RuleError::BadAnchor {
                rule: rule.id.clone(),
                anchor: String::from_utf8_lossy(anchor).into_owned(),
                reason,
            });
        }
    }
    // Where one anchor is a prefix of another, the shorter one finds every position the longer
    // one would, and the regex decides the rest: keep only the shorter.
    Ok(anchors)
}
