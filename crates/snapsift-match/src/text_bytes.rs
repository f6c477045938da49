//! How often each byte value occurs in ordinary text: the model behind the speed choices that
//! depend on the data (which heads share a Teddy bucket, which byte a rule's gate looks for).
//!
//! It is rough on purpose: spaces and common lower-case letters most, then digits and the
//! punctuation of paths, URLs and key=value lines, then capitals; control and non-ASCII bytes
//! seldom. Only orders of magnitude matter, and nothing that depends on it can change what
//! is found, only how fast.

use std::sync::OnceLock;

/// Each byte's share of text, summing to 1.
pub(crate) fn shares() -> &'static [f64; 256] {
    static SHARES: OnceLock<[f64; 256]> = OnceLock::new();
    SHARES.get_or_init(|| {
        let total: f64 = (0..=255).map(weight).sum();
        std::array::from_fn(|b| weight(b as u8) / total)
    })
}

/// The relative frequency of byte `b` (see the module docs).
fn weight(b: u8) -> f64 {
    /// Lower-case letters from the most frequent in English text to the least.
    const LETTERS_BY_FREQUENCY: &[u8; 26] = b"etaoinsrhldcumfpgwybvkxjqz";
    let rank = |letter: u8| {
        LETTERS_BY_FREQUENCY
            .iter()
            .position(|&c| c == letter.to_ascii_lowercase())
            .unwrap_or(LETTERS_BY_FREQUENCY.len()) as f64
    };
    match b {
        b' ' => 10.0,
        b'a'..=b'z' => 7.0 * 0.88f64.powf(rank(b)) + 0.3,
        b'A'..=b'Z' => 1.2 * 0.9f64.powf(rank(b)) + 0.1,
        b'0'..=b'9' => 2.0,
        b'/' | b'.' | b'-' | b'_' | b':' | b'=' | b'"' | b',' | b'\n' => 1.8,
        0x21..=0x7e => 0.4,
        b'\t' | b'\r' => 0.5,
        0 => 3.0,
        _ => 0.08,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_sum_to_one_and_rank_text_over_binary() {
        let s = shares();
        assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(s[usize::from(b'e')] > s[usize::from(b'z')]);
        assert!(s[usize::from(b'z')] > s[usize::from(b'@')]);
        assert!(s[usize::from(b'@')] > s[0xfe]);
    }
}
