//! A small bounded DER reader: enough of X.690 to walk private-key structures.
//!
//! Definite lengths only (the indefinite form is BER, never DER, and refused), lengths of at
//! most 4 bytes and never past the end of the enclosing element, tag numbers of at most 4
//! bytes, nesting at most [`MAX_DEPTH`] levels deep. Nothing is copied: elements are slices
//! of the input. Every error says what was wrong in terms of structure, never content.

/// The deepest nesting [`well_formed`] descends into. Private-key structures nest 4 or 5
/// levels; anything deeper in a key is hostile.
pub(super) const MAX_DEPTH: usize = 16;

/// Universal tag numbers this module's callers use.
pub(super) const INTEGER: u32 = 2;
/// BIT STRING.
pub(super) const BIT_STRING: u32 = 3;
/// OCTET STRING.
pub(super) const OCTET_STRING: u32 = 4;
/// NULL.
pub(super) const NULL: u32 = 5;
/// OBJECT IDENTIFIER.
pub(super) const OID: u32 = 6;
/// SEQUENCE (always constructed).
pub(super) const SEQUENCE: u32 = 16;

/// The class of a tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Class {
    /// Universal (INTEGER, SEQUENCE, ...).
    Universal,
    /// Application.
    Application,
    /// Context-specific (`[0]`, `[1]`, ...).
    Context,
    /// Private.
    Private,
}

/// One element: its tag and its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Tlv<'a> {
    /// The tag's class.
    pub class: Class,
    /// Whether the element is constructed (its content is more elements).
    pub constructed: bool,
    /// The tag number.
    pub number: u32,
    /// The content octets.
    pub content: &'a [u8],
}

impl Tlv<'_> {
    /// Whether this is the universal element `number`, constructed or not as `constructed`.
    pub(super) fn is(&self, number: u32, constructed: bool) -> bool {
        self.class == Class::Universal && self.number == number && self.constructed == constructed
    }

    /// Whether this is the context-specific element `[number]`.
    pub(super) fn is_context(&self, number: u32) -> bool {
        self.class == Class::Context && self.number == number
    }
}

/// Reads the elements of a byte string one after the other.
#[derive(Clone, Debug)]
pub(super) struct Reader<'a> {
    rest: &'a [u8],
}

/// Splits the first `n` bytes off `bytes`, or says what is missing.
fn take(bytes: &[u8], n: usize) -> Result<(&[u8], &[u8]), String> {
    if n > bytes.len() {
        return Err(format!(
            "an element claims {n} bytes where {} remain",
            bytes.len()
        ));
    }
    Ok(bytes.split_at(n))
}

impl<'a> Reader<'a> {
    /// A reader of the elements in `bytes`.
    pub(super) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    /// Whether every element has been read.
    pub(super) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The bytes not read yet.
    pub(super) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// The next element without reading it.
    pub(super) fn peek(&self) -> Option<Tlv<'a>> {
        self.clone().read().ok()
    }

    /// Reads the next element.
    pub(super) fn read(&mut self) -> Result<Tlv<'a>, String> {
        let (&first, mut rest) = self
            .rest
            .split_first()
            .ok_or_else(|| "an element is missing: the data ends".to_string())?;
        let class = match first >> 6 {
            0 => Class::Universal,
            1 => Class::Application,
            2 => Class::Context,
            _ => Class::Private,
        };
        let constructed = first & 0x20 != 0;
        let mut number = u32::from(first & 0x1f);
        if number == 0x1f {
            // High tag number form: base-128 digits, the last without its top bit.
            number = 0;
            for i in 0..=4 {
                let (&b, tail) = rest
                    .split_first()
                    .ok_or_else(|| "a tag is cut short".to_string())?;
                rest = tail;
                if i == 4 || (i == 0 && b == 0x80) {
                    return Err("a tag number is too long or not minimal".into());
                }
                number = (number << 7) | u32::from(b & 0x7f);
                if b & 0x80 == 0 {
                    break;
                }
            }
        }
        let (&len_byte, tail) = rest
            .split_first()
            .ok_or_else(|| "a length is missing: the data ends".to_string())?;
        rest = tail;
        let len = if len_byte < 0x80 {
            usize::from(len_byte)
        } else if len_byte == 0x80 {
            return Err("an element has an indefinite length, which DER does not allow".into());
        } else {
            let count = usize::from(len_byte & 0x7f);
            if count > 4 {
                return Err(format!(
                    "an element's length takes {count} bytes (at most 4)"
                ));
            }
            let (digits, tail) = take(rest, count)?;
            rest = tail;
            digits
                .iter()
                .fold(0usize, |acc, &d| (acc << 8) | usize::from(d))
        };
        let (content, tail) = take(rest, len)?;
        self.rest = tail;
        Ok(Tlv {
            class,
            constructed,
            number,
            content,
        })
    }

    /// Reads the next element, which must be the universal element `number` (constructed
    /// for SEQUENCE); `what` names it in the error.
    pub(super) fn expect(&mut self, number: u32, what: &str) -> Result<Tlv<'a>, String> {
        let tlv = self
            .read()
            .map_err(|e| format!("{what} does not parse: {e}"))?;
        if !tlv.is(number, number == SEQUENCE) {
            return Err(format!("{what} is not {}", universal_name(number)));
        }
        Ok(tlv)
    }

    /// Reads an INTEGER and returns its content (at least one byte, two's complement).
    pub(super) fn integer(&mut self, what: &str) -> Result<&'a [u8], String> {
        let tlv = self.expect(INTEGER, what)?;
        if tlv.content.is_empty() {
            return Err(format!("{what} is an INTEGER with no content"));
        }
        Ok(tlv.content)
    }

    /// Reads an INTEGER that must be one of the small values in `allowed`, and returns it.
    pub(super) fn small_integer(&mut self, what: &str, allowed: &[u8]) -> Result<u8, String> {
        let content = self.integer(what)?;
        match content {
            [v] if allowed.contains(v) => Ok(*v),
            _ => Err(format!(
                "{what} is not {}",
                allowed
                    .iter()
                    .map(u8::to_string)
                    .collect::<Vec<_>>()
                    .join(" or ")
            )),
        }
    }
}

fn universal_name(number: u32) -> &'static str {
    match number {
        INTEGER => "an INTEGER",
        BIT_STRING => "a BIT STRING",
        OCTET_STRING => "an OCTET STRING",
        NULL => "a NULL",
        OID => "an OBJECT IDENTIFIER",
        SEQUENCE => "a SEQUENCE",
        _ => "the expected element",
    }
}

/// Whether `bytes` is a series of well-formed elements, constructed ones holding well-formed
/// elements in turn, at most [`MAX_DEPTH`] levels deep (`depth` is the level of `bytes`).
pub(super) fn well_formed(bytes: &[u8], depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("elements nest deeper than {MAX_DEPTH} levels"));
    }
    let mut r = Reader::new(bytes);
    while !r.is_empty() {
        let tlv = r.read()?;
        if tlv.constructed {
            well_formed(tlv.content, depth.saturating_add(1))?;
        }
    }
    Ok(())
}

/// The number of significant bits of the non-negative INTEGER `content` (leading zero bytes
/// and bits ignored); `None` for a negative number.
pub(super) fn unsigned_bits(content: &[u8]) -> Option<usize> {
    if content.first().is_some_and(|&b| b & 0x80 != 0) {
        return None;
    }
    let skip = content.iter().take_while(|&&b| b == 0).count();
    let significant = content.get(skip..).unwrap_or_default();
    let Some(&top) = significant.first() else {
        return Some(0);
    };
    let top_bits = 8usize.saturating_sub(top.leading_zeros() as usize);
    Some(
        significant
            .len()
            .saturating_sub(1)
            .saturating_mul(8)
            .saturating_add(top_bits),
    )
}

/// The OBJECT IDENTIFIER `content` in dotted form, or `None` if it is malformed or longer
/// than 64 bytes.
pub(super) fn oid_string(content: &[u8]) -> Option<String> {
    if content.is_empty() || content.len() > 64 || content.last().is_some_and(|&b| b & 0x80 != 0) {
        return None;
    }
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    let mut fresh = true;
    for &b in content {
        if fresh && b == 0x80 {
            return None; // Not minimal.
        }
        value = value.checked_mul(128)?.checked_add(u64::from(b & 0x7f))?;
        fresh = b & 0x80 == 0;
        if fresh {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value.checked_sub(first.checked_mul(40)?)?);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    Some(
        arcs.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths() {
        let mut r = Reader::new(&[0x02, 0x01, 0x05, 0x04, 0x81, 0x02, 0xaa, 0xbb]);
        assert_eq!(r.integer("a").unwrap(), &[5]);
        let t = r.expect(OCTET_STRING, "b").unwrap();
        assert_eq!(t.content, &[0xaa, 0xbb]);
        assert!(r.is_empty());
        assert!(r.read().is_err());
    }

    #[test]
    fn reads_context_and_high_tags() {
        let mut r = Reader::new(&[0xa0, 0x00, 0x9f, 0x81, 0x00, 0x00, 0x1f, 0x1f, 0x00]);
        let t = r.read().unwrap();
        assert!(t.is_context(0) && t.constructed);
        let t = r.read().unwrap();
        assert_eq!((t.class, t.number), (Class::Context, 128));
        let t = r.read().unwrap();
        assert_eq!((t.class, t.number), (Class::Universal, 31));
    }

    #[test]
    fn refuses_hostile_lengths_and_tags() {
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x80, 0x00, 0x00],
            &[0x30, 0x85, 1, 0, 0, 0, 0],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x30, 0x82, 0x01],
            &[0x04, 0x05, 1, 2],
            &[0x1f, 0x80, 0x01, 0x00],
            &[0x1f, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00],
            &[0x1f, 0x81],
        ] {
            assert!(Reader::new(bad).read().is_err(), "{bad:02x?}");
        }
    }

    #[test]
    fn depth_bombs_are_cut() {
        // 10000 nested SEQUENCEs, each with a 4-byte length.
        let mut bomb: Vec<u8> = vec![0x05, 0x00];
        for _ in 0..10_000 {
            let len = bomb.len() as u32;
            let mut outer = vec![0x30, 0x84];
            outer.extend_from_slice(&len.to_be_bytes());
            outer.extend_from_slice(&bomb);
            bomb = outer;
        }
        let why = well_formed(&bomb, 0).unwrap_err();
        assert!(why.contains("deeper"), "{why}");
        // MAX_DEPTH nested SEQUENCEs pass; one more does not.
        let mut ok: Vec<u8> = vec![0x05, 0x00];
        for _ in 0..MAX_DEPTH {
            ok = [vec![0x30, ok.len() as u8], ok].concat();
        }
        assert!(well_formed(&ok, 0).is_ok());
        let deeper = [vec![0x30, ok.len() as u8], ok].concat();
        assert!(well_formed(&deeper, 0).is_err());
    }

    #[test]
    fn bits_and_oids() {
        assert_eq!(unsigned_bits(&[0x00, 0x80, 0x00]), Some(16));
        assert_eq!(unsigned_bits(&[0x01]), Some(1));
        assert_eq!(unsigned_bits(&[0x00]), Some(0));
        assert_eq!(unsigned_bits(&[0x80]), None);
        assert_eq!(
            oid_string(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]).as_deref(),
            Some("1.2.840.113549.1.1.1")
        );
        assert_eq!(
            oid_string(&[0x2b, 0x65, 0x70]).as_deref(),
            Some("1.3.101.112")
        );
        assert_eq!(oid_string(&[0x88, 0x37]).as_deref(), Some("2.999"));
        assert_eq!(oid_string(&[]), None);
        assert_eq!(oid_string(&[0x2a, 0x86]), None);
        assert_eq!(oid_string(&[0x2a, 0x80, 0x01]), None);
        assert_eq!(oid_string(&[0xff; 20]), None);
    }
}
