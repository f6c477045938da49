//! `entropy:N`: turns away secrets too regular to be random.
//!
//! **Rule:** the Shannon entropy of the secret's bytes, `-Σ p(b)·log2 p(b)` over the byte
//! values `b` it contains, in bits per byte, is at least `N`. The secret is taken as it is
//! (quotes included if the rule captured them). An empty secret has entropy 0. For scale:
//! random base64 of 40 characters measures about 5, random hex of 40 about 3.7, `password1`
//! about 2.9, `aaaa` 0; the highest possible value for a string of `n` bytes is `log2(n)`, so
//! a threshold must suit the rule's secret length.

use super::Outcome;

/// The Shannon entropy of `bytes`, in bits per byte.
pub(super) fn shannon(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        if let Some(slot) = counts.get_mut(usize::from(b)) {
            *slot = slot.saturating_add(1);
        }
    }
    let total = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / total;
            -p * p.log2()
        })
        .sum()
}

/// `entropy:N` on a secret.
pub(super) fn check(secret: &[u8], min: f64) -> Outcome {
    let h = shannon(secret);
    // Compare with a little slack for floating-point rounding: `entropy:2` must pass a
    // secret of 4 equally frequent bytes, whose sum may come out a hair under 2.
    if h + 1e-9 < min {
        return Err(format!(
            "the secret's entropy, {h:.2} bits per byte, is below the rule's minimum of {min}"
        ));
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(shannon(b""), 0.0);
        assert_eq!(shannon(b"aaaa"), 0.0);
        assert!((shannon(b"ab") - 1.0).abs() < 1e-12);
        assert!((shannon(b"abcd") - 2.0).abs() < 1e-12);
        let all: Vec<u8> = (0..=255).collect();
        assert!((shannon(&all) - 8.0).abs() < 1e-9);
    }

    #[test]
    fn threshold() {
        assert!(check(b"abcd", 2.0).is_ok());
        assert!(check(b"AKIANQCGPOYRDS3YHZFR", 3.0).is_ok());
        assert!(check(b"zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ0mLq17", 4.0).is_ok());
        let why = check(b"aaaaaaab", 3.0).unwrap_err();
        assert!(why.contains("0.54") && !why.contains("aaaa"), "{why}");
        assert!(check(b"", 0.5).is_err());
        assert!(check(b"", 0.0).is_ok());
        assert!(check(b"\xff\x00\xfe", 1.0).is_ok());
    }
}
