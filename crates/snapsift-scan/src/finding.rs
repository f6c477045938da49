//! [`Finding`]: one secret at one place on the disk.

use std::ops::Range;

use snapsift_match::{Encoding, Rule, utf16le_ascii};

/// How far the context of a finding reaches before and after the match, at most.
pub const CONTEXT_RADIUS: usize = 160;

/// One secret found on the disk.
#[derive(Clone, Debug)]
pub struct Finding<'m> {
    /// The rule that found it.
    pub rule: &'m Rule,
    /// Offset of the match's first byte on the disk.
    pub offset: u64,
    /// How the match is written on the disk.
    pub encoding: Encoding,
    /// The match as text, complete: the bytes on the disk, or for UTF-16LE text its
    /// characters one byte each.
    pub text: Vec<u8>,
    /// Where the secret lies in `text`: the rule's `secret` group, else all of it.
    pub secret: Range<usize>,
    /// The line around it, as text.
    pub context: Context,
    /// Whether the match was cut at its rule's `max_len` ([`snapsift_match::Match::truncated`]):
    /// `text` is then the match's first `max_len` characters.
    pub truncated: bool,
}

impl Finding<'_> {
    /// The match's length on the disk, in bytes.
    pub fn length(&self) -> u64 {
        // A match is at most twice a rule's max_len bytes long, far below u64::MAX.
        let bytes = self.text.len().saturating_mul(self.encoding.unit_len());
        u64::try_from(bytes).unwrap_or(u64::MAX)
    }

    /// The secret's bytes, as text.
    pub fn secret_text(&self) -> &[u8] {
        self.text.get(self.secret.clone()).unwrap_or(&self.text)
    }

    /// What the rule's checks say of it (see [`Rule::assess_evidence`]).
    pub fn assess(&self) -> snapsift_match::Assessment {
        self.rule.assess_evidence(snapsift_match::checks::Evidence {
            matched: &self.text,
            secret: self.secret_text(),
            truncated: self.truncated,
        })
    }

    /// Offset of the secret's first byte on the disk.
    pub fn secret_offset(&self) -> u64 {
        let before = self.secret.start.saturating_mul(self.encoding.unit_len());
        self.offset
            .saturating_add(u64::try_from(before).unwrap_or(u64::MAX))
    }
}

/// The bytes around a finding: the line it starts on, cut to at most [`CONTEXT_RADIUS`] bytes
/// on each side of the secret.
///
/// Lines end at `\n` and at NUL bytes: text never holds NULs, and the padding of a disk block
/// or a binary file is noise, not context. For a secret that spans lines (a private key block)
/// the context is the line it starts on.
/// The bytes are raw disk bytes; printers decide how to show them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// The context bytes, as text.
    pub bytes: Vec<u8>,
    /// The part of `bytes` that belongs to the secret (cut at the end of the line).
    pub secret: Range<usize>,
}

impl Context {
    /// The context of the match at `matched` within `window`.
    ///
    /// The window must hold [`CONTEXT_RADIUS`] bytes on each side of the match, unless it ends
    /// at the disk's edge there, for the context not to depend on where the window was cut.
    pub(crate) fn around(window: &[u8], matched: Range<usize>) -> Context {
        let earliest = matched.start.saturating_sub(CONTEXT_RADIUS);
        let start = window[earliest..matched.start]
            .iter()
            .rposition(|&b| is_line_end(b))
            .map_or(earliest, |i| earliest.saturating_add(i).saturating_add(1));
        let latest = matched.end.saturating_add(CONTEXT_RADIUS).min(window.len());
        let end = window[matched.start..latest]
            .iter()
            .position(|&b| is_line_end(b))
            .map_or(latest, |i| matched.start.saturating_add(i));
        let secret_end = matched.end.min(end);
        Context {
            bytes: window[start..end].to_vec(),
            secret: matched.start.saturating_sub(start)..secret_end.saturating_sub(start),
        }
    }
}

impl Context {
    /// This context with `secret` (a range of the match's text, which this context holds
    /// from its `secret.start`) as its secret.
    pub(crate) fn focus(mut self, secret: Range<usize>) -> Context {
        let len = self.bytes.len();
        let start = self.secret.start.saturating_add(secret.start).min(len);
        let end = self
            .secret
            .start
            .saturating_add(secret.end)
            .clamp(start, len);
        self.secret = start..end;
        self
    }

    /// The context of a UTF-16LE match at `matched` (bytes) within `window`: the ASCII
    /// characters around it, one byte each, as far as [`CONTEXT_RADIUS`] characters.
    pub(crate) fn around_utf16(window: &[u8], matched: Range<usize>) -> Context {
        let radius = CONTEXT_RADIUS.saturating_mul(2);
        let before = &window[matched.start.saturating_sub(radius)..matched.start];
        let after_end = matched.end.saturating_add(radius).min(window.len());
        // Characters before the match, read backwards from it while they are ASCII.
        let lead: Vec<u8> = before.rchunks_exact(2).map_while(utf16le_ascii).collect();
        let mut text: Vec<u8> = lead.into_iter().rev().collect();
        let match_start = text.len();
        text.extend(
            window[matched.start..after_end]
                .chunks_exact(2)
                .map_while(utf16le_ascii),
        );
        let match_end = match_start
            .saturating_add(matched.len() / 2)
            .min(text.len());
        Context::around(&text, match_start..match_end)
    }
}

/// Whether `byte` ends a context line.
fn is_line_end(byte: u8) -> bool {
    byte == b'\n' || byte == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn around(window: &str, needle: &str) -> (String, String) {
        let start = window.find(needle).unwrap();
        let ctx = Context::around(window.as_bytes(), start..start + needle.len());
        let text = String::from_utf8(ctx.bytes.clone()).unwrap();
        let secret = text[ctx.secret.clone()].to_owned();
        (text, secret)
    }

    #[test]
    fn context_is_the_line() {
        let (text, secret) = around("first\nkey = AKIA123 # prod\nlast\n", "AKIA123");
        assert_eq!(text, "key = AKIA123 # prod");
        assert_eq!(secret, "AKIA123");
    }

    #[test]
    fn a_multi_line_secret_shows_its_first_line() {
        let (text, secret) = around(
            "x\n-----BEGIN\nabc\n-----END\n",
            "-----BEGIN\nabc\n-----END",
        );
        assert_eq!(text, "-----BEGIN");
        assert_eq!(secret, "-----BEGIN");
    }

    #[test]
    fn nul_padding_is_not_context() {
        let (text, _) = around("\0\0\0\0\x01\x02AKIA123 x\0\0", "AKIA123");
        assert_eq!(text, "\x01\x02AKIA123 x");
    }

    #[test]
    fn long_lines_are_cut_to_the_radius() {
        let line = format!("{}SECRET{}", "a".repeat(500), "b".repeat(500));
        let (text, secret) = around(&line, "SECRET");
        assert_eq!(text.len(), CONTEXT_RADIUS * 2 + 6);
        assert_eq!(secret, "SECRET");
    }
}
