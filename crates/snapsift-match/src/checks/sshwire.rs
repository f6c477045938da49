//! The SSH wire encoding (RFC 4251 §5) of keys, shared by `pem-key` (OpenSSH keys) and
//! `putty-key`: bounded readers of `uint32` and `string`, and the facts a public key blob
//! gives.

use super::Fact;
use super::der::unsigned_bits;
use super::text::printable;

/// Reads SSH wire fields one after the other.
#[derive(Clone, Debug)]
pub(super) struct Wire<'a> {
    rest: &'a [u8],
}

impl<'a> Wire<'a> {
    /// A reader of the fields in `bytes`.
    pub(super) fn new(bytes: &'a [u8]) -> Wire<'a> {
        Wire { rest: bytes }
    }

    /// Reads a big-endian `uint32`.
    pub(super) fn u32(&mut self, what: &str) -> Result<u32, String> {
        match self.rest {
            [a, b, c, d, tail @ ..] => {
                self.rest = tail;
                Ok(u32::from_be_bytes([*a, *b, *c, *d]))
            }
            _ => Err(format!("{what} is cut short")),
        }
    }

    /// Reads a `string`: a `uint32` length, then that many bytes (never more than remain).
    pub(super) fn string(&mut self, what: &str) -> Result<&'a [u8], String> {
        let len = self.u32(what)?;
        let len = usize::try_from(len).map_err(|_| format!("{what} is too long"))?;
        if len > self.rest.len() {
            return Err(format!(
                "{what} claims {len} bytes where {} remain",
                self.rest.len()
            ));
        }
        let (s, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(s)
    }
}

/// The `key_type` fact value of SSH key algorithm `name`, and the curve it implies.
pub(super) fn key_type(name: &[u8]) -> Option<(String, Option<&'static str>)> {
    let known: Option<(&str, Option<&'static str>)> = match name {
        b"ssh-rsa" => Some(("rsa", None)),
        b"ssh-dss" => Some(("dsa", None)),
        b"ssh-ed25519" => Some(("ed25519", None)),
        b"ssh-ed448" => Some(("ed448", None)),
        b"ecdsa-sha2-nistp256" => Some(("ec", Some("P-256"))),
        b"ecdsa-sha2-nistp384" => Some(("ec", Some("P-384"))),
        b"ecdsa-sha2-nistp521" => Some(("ec", Some("P-521"))),
        b"sk-ssh-ed25519@openssh.com" => Some(("ed25519-sk", None)),
        b"sk-ecdsa-sha2-nistp256@openssh.com" => Some(("ecdsa-sk", Some("P-256"))),
        _ => None,
    };
    match known {
        Some((t, curve)) => Some((t.to_string(), curve)),
        None => printable(name, 64).map(|n| (n, None)),
    }
}

/// The facts of an SSH public key blob: `key_type`, with `key_bits` for RSA and DSA and
/// `curve` for ECDSA. The blob must begin with a printable algorithm name; the fields after
/// it are read for RSA and DSA only, to size the key.
pub(super) fn public_key_facts(blob: &[u8]) -> Result<(Vec<u8>, Vec<Fact>), String> {
    let mut w = Wire::new(blob);
    let name = w.string("the public key's algorithm")?;
    let (kind, curve) = key_type(name)
        .ok_or_else(|| "the public key's algorithm name is not printable".to_string())?;
    let mut facts = vec![Fact::new("key_type", kind)];
    match name {
        b"ssh-rsa" => {
            w.string("the RSA public exponent")?;
            let n = w.string("the RSA modulus")?;
            match unsigned_bits(n) {
                Some(bits) if bits > 0 => facts.push(Fact::new("key_bits", bits.to_string())),
                _ => return Err("the RSA modulus is not a positive number".into()),
            }
        }
        b"ssh-dss" => {
            let p = w.string("the DSA prime p")?;
            match unsigned_bits(p) {
                Some(bits) if bits > 0 => facts.push(Fact::new("key_bits", bits.to_string())),
                _ => return Err("the DSA prime p is not a positive number".into()),
            }
        }
        _ => {}
    }
    if let Some(curve) = curve {
        facts.push(Fact::new("curve", curve));
    }
    Ok((name.to_vec(), facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_refuses_overlong_strings() {
        let mut w = Wire::new(&[0, 0, 0, 2, b'h', b'i', 0, 0, 0, 1]);
        assert_eq!(w.string("s").unwrap(), b"hi");
        assert_eq!(w.u32("n").unwrap(), 1);
        assert!(w.u32("n").is_err());
        assert!(Wire::new(&[0xff, 0xff, 0xff, 0xff, 1]).string("s").is_err());
        assert!(Wire::new(&[0, 0, 0]).string("s").is_err());
        assert!(w.rest.is_empty());
    }

    #[test]
    fn key_type_names() {
        assert_eq!(key_type(b"ssh-ed25519"), Some(("ed25519".into(), None)));
        assert_eq!(
            key_type(b"ecdsa-sha2-nistp384"),
            Some(("ec".into(), Some("P-384")))
        );
        assert_eq!(
            key_type(b"x-new@example.org"),
            Some(("x-new@example.org".into(), None))
        );
        assert_eq!(key_type(b"bad\nname"), None);
    }
}
