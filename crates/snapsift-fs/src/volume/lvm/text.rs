//! LVM2's metadata text (the format of `vgcfgbackup` files and of the text in a PV's
//! metadata area), parsed from bytes into a tree, with bounds: the text is written by whoever
//! wrote the disk.
//!
//! The grammar (LVM2's `libdm-config`): a section is `name { items }`, an item a section or
//! `key = value`; a value is a string (`"..."`, with `\"` and `\\` escapes), a number, or a
//! list `[value, ...]`; `#` starts a comment to the end of the line. Sections nest at most
//! [`MAX_DEPTH`] deep and a text holds at most [`MAX_NODES`] values, so that time and memory
//! stay linear in the text and small: LVM's own metadata nests 4 deep and holds some tens of
//! values per logical volume.

use std::borrow::Cow;

use super::super::Problem;

/// Sections and lists nested deeper than this are refused.
pub(crate) const MAX_DEPTH: usize = 16;
/// Texts holding more values (items, list elements) than this are refused.
pub(crate) const MAX_NODES: usize = 200_000;

/// One value of the tree.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value<'t> {
    /// An integer.
    Int(i64),
    /// A number that is not an integer (LVM writes none in volume group metadata).
    Float,
    /// A string, escapes undone.
    Str(Cow<'t, [u8]>),
    /// A list.
    List(Vec<Value<'t>>),
    /// A section.
    Section(Section<'t>),
}

/// A section: its items, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Section<'t> {
    /// (key, value), in the text's order.
    pub(crate) items: Vec<(&'t [u8], Value<'t>)>,
}

impl<'t> Section<'t> {
    /// The value of the first item named `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&Value<'t>> {
        self.items
            .iter()
            .find(|(k, _)| *k == key.as_bytes())
            .map(|(_, v)| v)
    }

    /// The integer `key`.
    pub(crate) fn int(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The string `key`.
    pub(crate) fn string(&self, key: &str) -> Option<&[u8]> {
        match self.get(key)? {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The list `key`.
    pub(crate) fn list(&self, key: &str) -> Option<&[Value<'t>]> {
        match self.get(key)? {
            Value::List(values) => Some(values),
            _ => None,
        }
    }

    /// The section `key`.
    pub(crate) fn section(&self, key: &str) -> Option<&Section<'t>> {
        match self.get(key)? {
            Value::Section(section) => Some(section),
            _ => None,
        }
    }

    /// The sections among the items, with their names, in order.
    pub(crate) fn sections(&self) -> impl Iterator<Item = (&'t [u8], &Section<'t>)> {
        self.items.iter().filter_map(|(k, v)| match v {
            Value::Section(section) => Some((*k, section)),
            _ => None,
        })
    }

    /// Whether the list `key` holds the string `flag` (`status = ["READ", "VISIBLE"]`).
    pub(crate) fn has_flag(&self, key: &str, flag: &str) -> bool {
        self.list(key).is_some_and(|values| {
            values
                .iter()
                .any(|v| matches!(v, Value::Str(s) if **s == *flag.as_bytes()))
        })
    }
}

/// Parses `text` (trailing NULs, which end the text in a metadata area, ignored) as the
/// items of one top-level section.
pub(crate) fn parse(text: &[u8]) -> Result<Section<'_>, Problem> {
    let end = text
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i.saturating_add(1));
    let mut parser = Parser {
        text: &text[..end],
        at: 0,
        nodes: 0,
    };
    let section = parser.items(0)?;
    match parser.token()? {
        None => Ok(section),
        Some(token) => Err(parser.unexpected(&token)),
    }
}

/// A token of the text.
#[derive(Clone, Debug, PartialEq)]
enum Token<'t> {
    /// `{ } [ ] = ,`.
    Punct(u8),
    /// A string, escapes undone.
    Str(Cow<'t, [u8]>),
    /// A name or a number.
    Word(&'t [u8]),
}

struct Parser<'t> {
    text: &'t [u8],
    at: usize,
    nodes: usize,
}

/// Bytes that end a word.
fn ends_word(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'{' | b'}' | b'[' | b']' | b'=' | b',' | b'"' | b'#')
}

impl<'t> Parser<'t> {
    /// Counts one more value against [`MAX_NODES`].
    fn count(&mut self) -> Result<(), Problem> {
        self.nodes = self.nodes.saturating_add(1);
        if self.nodes > MAX_NODES {
            return Err(Problem(format!(
                "the metadata text holds more than {MAX_NODES} values"
            )));
        }
        Ok(())
    }

    fn unexpected(&self, token: &Token<'_>) -> Problem {
        let what = match token {
            Token::Punct(b) => format!("'{}'", char::from(*b)),
            Token::Str(_) => "a string".into(),
            Token::Word(_) => "a word".into(),
        };
        Problem(format!(
            "the metadata text has {what} where it cannot be, near byte {}",
            self.at
        ))
    }

    /// The next token, `None` at the end.
    fn token(&mut self) -> Result<Option<Token<'t>>, Problem> {
        loop {
            let Some(&b) = self.text.get(self.at) else {
                return Ok(None);
            };
            if b.is_ascii_whitespace() || b == 0 {
                self.at = self.at.saturating_add(1);
            } else if b == b'#' {
                let rest = &self.text[self.at..];
                let line = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
                self.at = self.at.saturating_add(line);
            } else {
                break;
            }
        }
        let start = self.at;
        let b = self.text[start];
        if matches!(b, b'{' | b'}' | b'[' | b']' | b'=' | b',') {
            self.at = start.saturating_add(1);
            return Ok(Some(Token::Punct(b)));
        }
        if b == b'"' {
            return self.string().map(Some);
        }
        let rest = &self.text[start..];
        let len = rest
            .iter()
            .position(|&c| ends_word(c))
            .unwrap_or(rest.len());
        self.at = start.saturating_add(len);
        Ok(Some(Token::Word(&rest[..len])))
    }

    /// The string starting at the current `"`.
    fn string(&mut self) -> Result<Token<'t>, Problem> {
        let body_start = self.at.saturating_add(1);
        let body = self.text.get(body_start..).unwrap_or_default();
        let mut escaped = false;
        let mut owned: Option<Vec<u8>> = None;
        for (i, &c) in body.iter().enumerate() {
            if escaped {
                escaped = false;
                owned
                    .get_or_insert_with(|| body[..i.saturating_sub(1)].to_vec())
                    .push(c);
                continue;
            }
            match c {
                b'\\' => {
                    escaped = true;
                    if owned.is_none() {
                        owned = Some(body[..i].to_vec());
                    }
                }
                b'"' => {
                    self.at = body_start.saturating_add(i).saturating_add(1);
                    return Ok(Token::Str(match owned {
                        Some(bytes) => Cow::Owned(bytes),
                        None => Cow::Borrowed(&body[..i]),
                    }));
                }
                _ => {
                    if let Some(bytes) = owned.as_mut() {
                        bytes.push(c);
                    }
                }
            }
        }
        Err(Problem("a string of the metadata text does not end".into()))
    }

    /// Items up to a `}` (left unread) or the end, in a section `depth` deep.
    fn items(&mut self, depth: usize) -> Result<Section<'t>, Problem> {
        if depth > MAX_DEPTH {
            return Err(Problem(format!(
                "the metadata text nests deeper than {MAX_DEPTH} sections"
            )));
        }
        let mut section = Section::default();
        loop {
            let before = self.at;
            let key = match self.token()? {
                None => return Ok(section),
                Some(Token::Punct(b'}')) => {
                    self.at = before;
                    return Ok(section);
                }
                Some(Token::Word(word)) => word,
                Some(token) => return Err(self.unexpected(&token)),
            };
            self.count()?;
            let value = match self.token()? {
                Some(Token::Punct(b'{')) => {
                    let inner = self.items(depth.saturating_add(1))?;
                    match self.token()? {
                        Some(Token::Punct(b'}')) => Value::Section(inner),
                        _ => {
                            return Err(Problem(
                                "a section of the metadata text does not end".into(),
                            ));
                        }
                    }
                }
                Some(Token::Punct(b'=')) => self.value(depth)?,
                Some(token) => return Err(self.unexpected(&token)),
                None => return Err(Problem("the metadata text ends after a name".into())),
            };
            section.items.push((key, value));
        }
    }

    /// A value after `=`.
    fn value(&mut self, depth: usize) -> Result<Value<'t>, Problem> {
        match self.token()? {
            Some(Token::Punct(b'[')) => self.list(depth.saturating_add(1)),
            Some(token) => self.scalar(token),
            None => Err(Problem("the metadata text ends after '='".into())),
        }
    }

    /// A string or a number.
    fn scalar(&self, token: Token<'t>) -> Result<Value<'t>, Problem> {
        match token {
            Token::Str(s) => Ok(Value::Str(s)),
            Token::Word(word) => {
                let text = std::str::from_utf8(word).map_err(|_| self.unexpected(&token))?;
                if let Ok(n) = text.parse::<i64>() {
                    Ok(Value::Int(n))
                } else if text.parse::<f64>().is_ok() {
                    Ok(Value::Float)
                } else {
                    Err(self.unexpected(&token))
                }
            }
            Token::Punct(_) => Err(self.unexpected(&token)),
        }
    }

    /// The elements of a list after its `[`, up to and with its `]`.
    fn list(&mut self, depth: usize) -> Result<Value<'t>, Problem> {
        if depth > MAX_DEPTH {
            return Err(Problem(format!(
                "the metadata text nests deeper than {MAX_DEPTH} lists"
            )));
        }
        let mut values = Vec::new();
        loop {
            match self.token()? {
                Some(Token::Punct(b']')) => return Ok(Value::List(values)),
                Some(Token::Punct(b',')) if !values.is_empty() => {}
                Some(Token::Punct(b'[')) => {
                    self.count()?;
                    values.push(self.list(depth.saturating_add(1))?);
                }
                Some(token) => {
                    self.count()?;
                    values.push(self.scalar(token)?);
                }
                None => return Err(Problem("a list of the metadata text does not end".into())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"vgt {
id = "UqY5Jm-whcE-EU3Q-y7VE-7vxD-vfrR-B543QT"
seqno = 3
status = ["RESIZEABLE", "READ", "WRITE"]
flags = []
extent_size = 8192 # 4 Megabytes
logical_volumes {
lin {
segment1 {
stripes = [
"pv0", 0
]
}
}
}
}
# Generated by LVM2
contents = "Text Format Volume Group"
description = "a \"quoted\" back\\slash"
creation_time = 1796661472
"#;

    #[test]
    fn lvm_metadata_text() {
        let mut text = SAMPLE.as_bytes().to_vec();
        text.push(0);
        let top = parse(&text).unwrap();
        let vg = top.section("vgt").unwrap();
        assert_eq!(vg.int("seqno"), Some(3));
        assert_eq!(vg.int("extent_size"), Some(8192));
        assert!(vg.has_flag("status", "READ"));
        assert!(!vg.has_flag("status", "VISIBLE"));
        assert_eq!(vg.list("flags"), Some(&[][..]));
        let stripes = vg
            .section("logical_volumes")
            .and_then(|l| l.section("lin"))
            .and_then(|l| l.section("segment1"))
            .and_then(|s| s.list("stripes"))
            .unwrap();
        assert_eq!(
            stripes,
            &[Value::Str(Cow::Borrowed(b"pv0")), Value::Int(0)][..]
        );
        assert_eq!(
            top.string("description"),
            Some(&b"a \"quoted\" back\\slash"[..])
        );
        assert_eq!(top.sections().count(), 1);
    }

    #[test]
    fn hostile_texts_are_refused_not_followed() {
        for bad in [
            "a {",
            "a = ",
            "a = [1, 2",
            "a = \"open",
            "= 1",
            "a b",
            "}",
            "a = {",
            "a = [,]",
            "a = zz",
            "a = [1 ] ]",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        let deep = "a {".repeat(MAX_DEPTH + 2) + &"}".repeat(MAX_DEPTH + 2);
        assert!(parse(deep.as_bytes()).unwrap_err().0.contains("deeper"));
        let nested = "a = ".to_owned() + &"[".repeat(100_000);
        assert!(parse(nested.as_bytes()).unwrap_err().0.contains("deeper"));
        let wide = "a = [".to_owned() + &"1,".repeat(MAX_NODES + 1) + "]";
        assert!(parse(wide.as_bytes()).unwrap_err().0.contains("values"));
        assert!(parse(b"").unwrap().items.is_empty());
    }
}
