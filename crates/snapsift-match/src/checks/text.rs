//! Text helpers shared by the checks: unquoting, JSON-style escapes, lines, safe fact values.

/// `value` without surrounding ASCII whitespace and up to two layers of matching quotes
/// (`"`, `'` or `` ` ``), as in `"secret"` or `"'secret'"`.
pub(super) fn unquote(value: &[u8]) -> &[u8] {
    let mut v = value.trim_ascii();
    for _ in 0..2 {
        match v {
            [first, inner @ .., last] if first == last && matches!(first, b'"' | b'\'' | b'`') => {
                v = inner.trim_ascii();
            }
            _ => break,
        }
    }
    v
}

/// `text` with JSON-style escapes of line breaks undone, for blocks stored inside JSON, YAML
/// or source strings: a run of backslashes followed by `n`, `r` or `t` becomes that control
/// character, and one followed by `/` or `"` becomes that character (so `\n`, `\\n`, `\/` all
/// work). Other backslashes are kept, for the caller's parser to refuse.
pub(super) fn unescape(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some((&b, tail)) = rest.split_first() {
        if b != b'\\' {
            out.push(b);
            rest = tail;
            continue;
        }
        // A run of backslashes, then the character they escape.
        let run = rest.iter().take_while(|&&c| c == b'\\').count();
        let after = rest.get(run..).unwrap_or_default();
        match after.split_first() {
            Some((&c @ (b'n' | b'r' | b't' | b'/' | b'"'), tail)) => {
                out.push(match c {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    other => other,
                });
                rest = tail;
            }
            _ => {
                out.extend_from_slice(rest.get(..run).unwrap_or_default());
                rest = after;
            }
        }
    }
    out
}

/// The lines of `text` (split at `\n`), each without surrounding ASCII whitespace (so `\r\n`
/// line ends and indentation go).
pub(super) fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&b| b == b'\n').map(<[u8]>::trim_ascii)
}

/// The position of the first occurrence of `needle` in `haystack`.
pub(super) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `value` as a fact value if it is 1 to `max` bytes of printable ASCII (space included),
/// else `None`: values read from a disk are reported only when they are plain text.
pub(super) fn printable(value: &[u8], max: usize) -> Option<String> {
    if value.is_empty() || value.len() > max || !value.iter().all(|&b| (0x20..0x7f).contains(&b)) {
        return None;
    }
    String::from_utf8(value.to_vec()).ok()
}

/// `value` as text for a fact, lossily: control characters become `.`, invalid UTF-8 becomes
/// U+FFFD, and the result is cut at `max` characters.
pub(super) fn lossy(value: &[u8], max: usize) -> String {
    String::from_utf8_lossy(value)
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .take(max)
        .collect()
}

/// Whether `c` is in the alphabet of crypt(3) and its base-64 encoding, `./0-9A-Za-z`.
pub(super) fn is_crypt64(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'.' || c == b'/'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquote_strips_quotes_and_space() {
        assert_eq!(unquote(b"  \"abc\" "), b"abc");
        assert_eq!(unquote(b"'abc'"), b"abc");
        assert_eq!(unquote(b"\"'abc'\""), b"abc");
        assert_eq!(unquote(b"`abc`"), b"abc");
        assert_eq!(unquote(b"\"abc'"), b"\"abc'");
        assert_eq!(unquote(b"\""), b"\"");
        assert_eq!(unquote(b"\"\""), b"");
        assert_eq!(unquote(b""), b"");
    }

    #[test]
    fn unescape_undoes_json_line_breaks() {
        assert_eq!(unescape(br"a\nb\r\nc\/d\\ne\t"), b"a\nb\r\nc/d\ne\t");
        assert_eq!(unescape(br"a\xb\"), br"a\xb\");
        assert_eq!(unescape(b"\\"), b"\\");
        assert_eq!(unescape(b""), b"");
    }

    #[test]
    fn printable_and_lossy() {
        assert_eq!(printable(b"ssh-rsa", 16).as_deref(), Some("ssh-rsa"));
        assert_eq!(printable(b"a\nb", 16), None);
        assert_eq!(printable(b"", 16), None);
        assert_eq!(printable(b"abcdef", 3), None);
        assert_eq!(lossy(b"a\nb\xff", 10), "a.b\u{fffd}");
        assert_eq!(lossy(b"abcdef", 3), "abc");
    }

    #[test]
    fn find_and_lines() {
        assert_eq!(find(b"abcabc", b"ca"), Some(2));
        assert_eq!(find(b"ab", b"abc"), None);
        assert_eq!(
            lines(b" a \r\n\nb").collect::<Vec<_>>(),
            [&b"a"[..], b"", b"b"]
        );
    }
}
