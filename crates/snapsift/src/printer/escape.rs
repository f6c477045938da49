//! Nothing a terminal acts on: how a report writes text it read from an image.
//!
//! File names, archive members, partition names, contexts and secrets are written by whoever
//! wrote the image. Written as they are, an ESC starts a terminal command (retitle the
//! window, move the cursor), a CR or LF forges a line of the report, and a bidi override
//! shows text in another order than it is. So no report writes such a character as it is:
//! * the text format writes every line through [`text`]: `\` becomes `\\`, tab, LF and CR
//!   become `\t`, `\n`, `\r`, and every other [unsafe](is_unsafe) character becomes
//!   `\u{…}` with its code point in hex (`\u{1b}`, `\u{202e}`), as Rust writes them. Because
//!   a backslash is always doubled, an escape in the report cannot be forged by the image;
//! * the JSON formats are escaped by `serde_json`, which writes C0 controls as `\u00XX`;
//!   [`json`] then writes the other unsafe characters (DEL, C1 controls, format characters)
//!   as `\uXXXX` too, which JSON reads back as the same characters;
//! * the HTML report writes text through [`html`]: escaped as [`text`] escapes it, then `&`,
//!   `<`, `>`, `"` and `'` as character references, so no name becomes markup, closes an
//!   attribute or reorders the page.

use std::borrow::Cow;
use std::fmt::Write;
use std::io;

use serde::Serialize;

/// Whether `c` is never written as it is: a control character (C0, DEL, C1), the line and
/// paragraph separators, or an invisible format character that reorders or hides text (the
/// bidi marks, embeddings, overrides and isolates, zero-width characters, the soft hyphen,
/// the byte order mark, interlinear annotation and tag characters).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{ad}'
                | '\u{61c}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{e0000}'..='\u{e007f}'
        )
}

/// `line` as the text format writes it: `\` doubled, unsafe characters escaped (see the
/// module docs).
pub fn text(line: &str) -> Cow<'_, str> {
    if !line.chars().any(|c| c == '\\' || is_unsafe(c)) {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len() + 8);
    for c in line.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if is_unsafe(c) => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `line` as the HTML report writes it, in an element or a quoted attribute: escaped as
/// [`text`] escapes it, then `&`, `<`, `>`, `"`, `'` as character references.
pub fn html(line: &str) -> String {
    let shown = text(line);
    let mut out = String::with_capacity(shown.len() + 8);
    for c in shown.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `json`, a document `serde_json` wrote, with the unsafe characters it leaves as they are
/// (all but the C0 controls, which it escapes) written as `\uXXXX` (a surrogate pair above
/// U+FFFF). Outside its strings a JSON document holds only ASCII, so every such character is
/// inside a string, where the escape reads back as the same character.
pub fn json(json: &str) -> Cow<'_, str> {
    let needs = |c: char| u32::from(c) >= 0x7f && is_unsafe(c);
    if !json.chars().any(needs) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    let mut units = [0u16; 2];
    for c in json.chars() {
        if needs(c) {
            for unit in c.encode_utf16(&mut units) {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Writes `value` as JSON (indented if `pretty`) to `out`, escaped by [`json`].
pub fn write_json(out: &mut dyn io::Write, value: &impl Serialize, pretty: bool) -> io::Result<()> {
    let text = if pretty {
        serde_json::to_string_pretty(value)?
    } else {
        serde_json::to_string(value)?
    };
    out.write_all(json(&text).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_controls_bidi_and_the_backslash_itself() {
        assert_eq!(text("/etc/app.conf"), "/etc/app.conf");
        assert!(matches!(text("plain"), Cow::Borrowed(_)));
        assert_eq!(
            text("a\x1b]0;pwned\x07b\r\nc\td\u{7f}e\u{9b}f"),
            "a\\u{1b}]0;pwned\\u{7}b\\r\\nc\\td\\u{7f}e\\u{9b}f"
        );
        assert_eq!(text("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(
            text("\u{200b}\u{2066}\u{feff}\u{e0041}"),
            "\\u{200b}\\u{2066}\\u{feff}\\u{e0041}"
        );
        // A backslash in the name cannot pass for an escape.
        assert_eq!(text("C:\\u{1b}"), "C:\\\\u{1b}");
        assert_eq!(text("pässwörd ✓"), "pässwörd ✓");
    }

    #[test]
    fn html_leaves_no_markup_and_no_control() {
        assert_eq!(
            html("<script>alert('x')</script>&\"\u{202e}\n"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;\\u{202e}\\n"
        );
        assert_eq!(html("/etc/ssh/sshd_config"), "/etc/ssh/sshd_config");
    }

    #[test]
    fn json_escapes_what_serde_leaves_and_reads_back_the_same() {
        let value = serde_json::json!({
            "path": "a\x1b\u{7f}\u{85}\u{202e}\u{e0041}b\\\"",
            "ok": "pässwörd",
        });
        let written = serde_json::to_string_pretty(&value).unwrap();
        let safe = json(&written);
        assert!(!safe.chars().any(|c| is_unsafe(c) && c != '\n'), "{safe}");
        assert!(
            safe.contains("\\u007f\\u0085\\u202e\\udb40\\udc41"),
            "{safe}"
        );
        assert!(safe.contains("pässwörd"));
        let read: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(read, value);
    }
}
