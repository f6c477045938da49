//! A rule's *gate*: a byte that every match of the rule contains beyond its anchor, so that
//! where the byte does not occur within the rule's reach from a hit, its regex need not run.
//!
//! Some anchors are common words of ordinary text: `http` begins most URLs, yet a URL holds
//! credentials only if an `@` follows. Running the regex costs tens of nanoseconds per hit
//! even when it fails at once; `memchr` over the rule's reach costs a few. The gate is derived
//! from the pattern, never written beside it, so it cannot disagree with it: a byte is
//! required if every match of the pattern contains it (a literal on every path through it),
//! and a match found anchored at a hit lies within `max_len` bytes of it, so a required byte
//! absent from that stretch means no match there.

use regex_syntax::hir::{Class, Hir, HirKind};

use crate::text_bytes;

/// Rules that can reach further than this get no gate: a gate scans the whole reach from every
/// hit where its byte is absent, and long matches (PEM blocks) are rare and costly anyway.
const MAX_GATED_LEN: usize = 4096;

/// The rarest byte in ordinary text (see [`text_bytes`]) that every match of `hir` contains
/// and that no anchor contains in either case, if `max_len` is at most [`MAX_GATED_LEN`].
pub(crate) fn gate(hir: &Hir, anchors: &[Vec<u8>], max_len: usize) -> Option<u8> {
    if max_len > MAX_GATED_LEN {
        return None;
    }
    let required = required_bytes(hir);
    let shares = text_bytes::shares();
    (0..=255u8)
        .filter(|&b| {
            // Anchors are found in any ASCII case: a byte the hit itself may hold is no gate.
            required[usize::from(b)]
                && !anchors
                    .iter()
                    .any(|a| a.iter().any(|x| x.eq_ignore_ascii_case(&b)))
        })
        .min_by(|&x, &y| shares[usize::from(x)].total_cmp(&shares[usize::from(y)]))
}

/// For each byte, whether every match of `hir` contains it.
fn required_bytes(hir: &Hir) -> [bool; 256] {
    let mut set = [false; 256];
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(literal) => {
            for &b in literal.0.iter() {
                set[usize::from(b)] = true;
            }
        }
        HirKind::Class(class) => {
            if let Some(b) = single_byte(class) {
                set[usize::from(b)] = true;
            }
        }
        HirKind::Repetition(repetition) => {
            if repetition.min > 0 {
                set = required_bytes(&repetition.sub);
            }
        }
        HirKind::Capture(capture) => set = required_bytes(&capture.sub),
        HirKind::Concat(parts) => {
            for part in parts {
                let part_set = required_bytes(part);
                for (s, p) in set.iter_mut().zip(part_set) {
                    *s |= p;
                }
            }
        }
        HirKind::Alternation(branches) => {
            set = [true; 256];
            for branch in branches {
                let branch_set = required_bytes(branch);
                for (s, b) in set.iter_mut().zip(branch_set) {
                    *s &= b;
                }
            }
        }
    }
    set
}

/// The one byte a class matches, if it matches exactly one.
fn single_byte(class: &Class) -> Option<u8> {
    match class {
        Class::Bytes(bytes) => match bytes.ranges() {
            [range] if range.start() == range.end() => Some(range.start()),
            _ => None,
        },
        Class::Unicode(chars) => match chars.ranges() {
            [range] if range.start() == range.end() => u8::try_from(u32::from(range.start()))
                .ok()
                .filter(u8::is_ascii),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pattern: &str) -> Hir {
        regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern)
            .unwrap()
    }

    fn gate_of(pattern: &str, anchors: &[&str]) -> Option<u8> {
        let anchors: Vec<Vec<u8>> = anchors.iter().map(|a| a.as_bytes().to_vec()).collect();
        gate(&parse(pattern), &anchors, 600)
    }

    #[test]
    fn a_url_with_credentials_is_gated_on_its_at_sign() {
        let pattern =
            r"https?://(?:[\x00-\xff]\b\B)?[^\s:/@]{1,128}:(?P<secret>[^\s@/]{1,64})@[a-z.]{1,253}";
        assert_eq!(gate_of(pattern, &["http://", "https://"]), Some(b'@'));
    }

    #[test]
    fn only_bytes_on_every_path_count() {
        // `@` only on one branch, `=` optional, `x` in a class of two: nothing is required
        // beyond the anchor's own bytes.
        assert_eq!(gate_of(r"key(?:@a|b)=?[xy]{3}", &["key"]), None);
        // `:` on both branches, `;` in a repetition of at least one; `;` is the rarer.
        assert_eq!(gate_of(r"key(?:a:|b:)[0-9]{2}", &["key"]), Some(b':'));
        assert_eq!(
            gate_of(r"key(?:a:|b:)(?:;[0-9]){1,2}", &["key"]),
            Some(b';')
        );
        // A byte of the anchor tells nothing.
        assert_eq!(gate_of(r"AKIA[A-Z0-9]{16}", &["AKIA"]), None);
    }

    #[test]
    fn long_rules_get_no_gate() {
        let anchors = [b"-----BEGIN ".to_vec()];
        let hir = parse(r"-----BEGIN [A-Z ]{0,20}KEY-----[A-Za-z0-9+/=\s]{64,30000}-----END");
        assert_eq!(gate(&hir, &anchors, 32768), None);
        assert!(gate(&hir, &anchors, 4096).is_some());
    }
}
