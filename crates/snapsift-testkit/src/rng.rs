//! The one seeded random number generator of the tests: failures reproduce.

/// Deterministic pseudo-random numbers (xorshift64*): fast, seeded, and not for anything but
/// test data.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`: distinct seeds give distinct sequences. Zero, xorshift's
    /// one fixed point, is replaced by a constant; the output multiply makes even small seeds
    /// start with large numbers.
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x5eed_5eed_5eed_5eed
        } else {
            seed
        })
    }

    /// The next number.
    #[allow(clippy::should_implement_trait)] // Not an iterator: it never ends.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (not 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// `len` pseudo-random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(len);
        out
    }

    /// `n` characters picked from `alphabet`.
    pub fn pick(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| alphabet[self.below(alphabet.len() as u64) as usize] as char)
            .collect()
    }
}

/// `len` deterministic bytes with no zero byte, from `seed` (`mke2fs -d` turns zero blocks
/// into holes, and a hole is not what such a test means to write).
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| (rng.below(255) + 1) as u8).collect()
}
