//! How a secret and its context are shown: printable, and masked when asked.

use snapsift_scan::Finding;

/// Characters kept at the start of a masked secret.
const KEEP_START: usize = 4;
/// Characters kept at the end of a masked secret.
const KEEP_END: usize = 2;
/// The most `*` a masked secret shows: enough to see it was masked, not its length.
const MAX_STARS: usize = 12;

/// A finding's secret and context as text, masked if `redact`.
pub struct Shown {
    /// The secret: complete, or masked.
    pub secret: String,
    /// The context line, with control characters as `.` and the secret masked if `redact`.
    pub context: String,
}

impl Shown {
    /// Renders `finding`.
    pub fn new(finding: &Finding<'_>, redact: bool) -> Shown {
        let ctx = &finding.context;
        let (before, rest) = ctx.bytes.split_at(ctx.secret.start);
        let (_, after) = rest.split_at(ctx.secret.len());
        let secret = if redact {
            mask(finding.secret_text())
        } else {
            String::from_utf8_lossy(finding.secret_text()).into_owned()
        };
        let secret_in_context = if redact {
            secret.clone()
        } else {
            printable(&ctx.bytes[ctx.secret.clone()])
        };
        Shown {
            context: format!(
                "{}{secret_in_context}{}",
                printable(before),
                printable(after)
            ),
            secret,
        }
    }
}

/// `bytes` as one line of text: invalid UTF-8, control characters and line breaks become `.`.
pub fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| {
            if c.is_control() || c == char::REPLACEMENT_CHARACTER {
                '.'
            } else {
                c
            }
        })
        .collect()
}

/// The secret with all but its first and last few characters replaced by `*`.
///
/// Short secrets keep proportionally less: under 8 characters nothing is kept.
pub fn mask(secret: &[u8]) -> String {
    let chars: Vec<char> = printable(secret).chars().collect();
    let (keep_start, keep_end) = match chars.len() {
        0..8 => (0, 0),
        8..16 => (2, 0),
        _ => (KEEP_START, KEEP_END),
    };
    let hidden = chars.len().saturating_sub(keep_start + keep_end);
    let mut out: String = chars[..keep_start].iter().collect();
    out.extend(std::iter::repeat_n('*', hidden.clamp(1, MAX_STARS)));
    out.extend(&chars[chars.len() - keep_end..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_keeps_only_a_few_characters() {
        assert_eq!(mask(b"AKIAQ2W3E4R5T6Y7U2I3"), "AKIA************I3");
        assert_eq!(mask(b"hunter2!pw"), "hu********");
        assert_eq!(mask(b"abc"), "***");
        let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----";
        assert_eq!(mask(key.as_bytes()), "----************--");
    }

    #[test]
    fn printable_replaces_controls_and_invalid_bytes() {
        assert_eq!(printable(b"a\tb\nc\x00d\xffe"), "a.b.c.d.e");
        assert_eq!(printable("pässwörd".as_bytes()), "pässwörd");
    }
}
