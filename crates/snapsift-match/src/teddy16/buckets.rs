//! Which literals share a bucket, and the nibble tables that follow from it.
//!
//! A bucket's fingerprint at position `k` accepts every byte whose low nibble is the low nibble
//! of some member's byte `k` and whose high nibble is the high nibble of some member's byte `k`
//! (not necessarily the same member's), a letter in either case (literals are found in any
//! ASCII case: `p` and `P` differ in one bit of the high nibble, so that costs little), while members that differ
//! in both nibbles let through bytes that no member has: `s`+`p` at one position accepts
//! `c`, `q`, `S`, `P`, ... as well. Every byte let through in every position is a false
//! candidate the search stops at and verifies.
//!
//! The assignment minimises an estimate of how many positions of ordinary text a bucket
//! accepts: the product over its positions of the share of text bytes it accepts, under a
//! rough model of byte frequencies in logs, configuration files and code
//! ([`crate::text_bytes`]). Literals are placed greedily, each where it adds least, then moved one
//! at a time while a move lowers the total. The model only steers speed: whatever the buckets,
//! verification is exact, so no assignment can lose or invent a match.

use crate::text_bytes;

/// How many buckets there are: two sets of 8, one bit per bucket in a byte.
pub(crate) const BUCKETS: usize = 16;

/// How many leading bytes of each literal the fingerprint looks at.
pub(crate) const FINGERPRINT_LEN: usize = 4;

/// The fingerprint tables: for each position `k` and each set of 8 buckets, the bucket bits
/// of every low nibble and of every high nibble, repeated for both 128-bit lanes of a
/// 256-bit shuffle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tables {
    /// `low[k][set][lane * 16 + nibble]`.
    pub(crate) low: [[[u8; 32]; 2]; FINGERPRINT_LEN],
    /// `high[k][set][lane * 16 + nibble]`.
    pub(crate) high: [[[u8; 32]; 2]; FINGERPRINT_LEN],
}

/// The literals of each bucket, as indices into `literals` (see the module docs).
pub(crate) fn assign(literals: &[Vec<u8>]) -> Vec<Vec<usize>> {
    let mut buckets: Vec<Vec<usize>> = vec![Vec::new(); BUCKETS];
    // Case variants first and together: they share a bucket for free.
    let mut order: Vec<usize> = (0..literals.len()).collect();
    order.sort_by_key(|&i| (folded_key(&literals[i]), i));
    for &literal in &order {
        // On a tie (a case variant costs the same beside its twin as alone), join a bucket
        // already in use, to keep the empty ones for literals that need them.
        let best = (0..BUCKETS)
            .map(|b| {
                let added = added_cost(literals, &buckets[b], literal);
                let empty = if buckets[b].is_empty() {
                    1.0 + 1e-9
                } else {
                    1.0
                };
                (added * empty, b)
            })
            .min_by(|x, y| x.0.total_cmp(&y.0))
            .map_or(0, |(_, b)| b);
        buckets[best].push(literal);
    }
    // Move single literals while that lowers the total. Each move lowers it by a positive
    // amount, so this ends; the cap only bounds the work on pathological inputs.
    for _ in 0..100 {
        let mut moved = false;
        for &literal in &order {
            let Some(from) = buckets.iter().position(|b| b.contains(&literal)) else {
                continue;
            };
            let rest: Vec<usize> = buckets[from]
                .iter()
                .copied()
                .filter(|&m| m != literal)
                .collect();
            let saved = cost(literals, &buckets[from]) - cost(literals, &rest);
            let best = (0..BUCKETS)
                .filter(|&b| b != from)
                .map(|b| (added_cost(literals, &buckets[b], literal), b))
                .min_by(|x, y| x.0.total_cmp(&y.0));
            if let Some((added, to)) = best
                && added < saved * (1.0 - 1e-9)
            {
                buckets[from] = rest;
                buckets[to].push(literal);
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    buckets
}

/// The tables for `buckets` of `literals`. A literal shorter than [`FINGERPRINT_LEN`] makes its
/// bucket accept every byte at the positions past its end.
pub(crate) fn tables(literals: &[Vec<u8>], buckets: &[Vec<usize>]) -> Tables {
    let mut t = Tables {
        low: [[[0; 32]; 2]; FINGERPRINT_LEN],
        high: [[[0; 32]; 2]; FINGERPRINT_LEN],
    };
    for (bucket, members) in buckets.iter().enumerate() {
        let (set, bit) = (bucket / 8, 1u8 << (bucket % 8));
        for k in 0..FINGERPRINT_LEN {
            let (low, high) = nibble_sets(literals, members, k);
            for nibble in 0..16 {
                for lane in [0, 16] {
                    if low & 1 << nibble != 0 {
                        t.low[k][set][lane + nibble] |= bit;
                    }
                    if high & 1 << nibble != 0 {
                        t.high[k][set][lane + nibble] |= bit;
                    }
                }
            }
        }
    }
    t
}

/// The low and high nibbles (bit `n` for nibble `n`) a bucket of `members` accepts at
/// position `k`: both cases of a letter, and every nibble where a member is shorter than
/// `k + 1` bytes.
fn nibble_sets(literals: &[Vec<u8>], members: &[usize], k: usize) -> (u16, u16) {
    members
        .iter()
        .fold((0, 0), |(low, high), &m| match literals[m].get(k) {
            Some(&b) => {
                let (lower, upper) = (b.to_ascii_lowercase(), b.to_ascii_uppercase());
                (
                    low | 1 << (lower & 0x0f) | 1 << (upper & 0x0f),
                    high | 1 << (lower >> 4) | 1 << (upper >> 4),
                )
            }
            None => (u16::MAX, u16::MAX),
        })
}

/// The estimated share of text positions that a bucket of `members` accepts.
fn cost(literals: &[Vec<u8>], members: &[usize]) -> f64 {
    if members.is_empty() {
        return 0.0;
    }
    let weights = text_bytes::shares();
    (0..FINGERPRINT_LEN)
        .map(|k| {
            let (low, high) = nibble_sets(literals, members, k);
            let mut accepted = 0.0;
            for h in bits(high) {
                for l in bits(low) {
                    accepted += weights[h << 4 | l];
                }
            }
            accepted
        })
        .product()
}

/// The indices of the bits set in `set`.
fn bits(mut set: u16) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        let bit = set.trailing_zeros() as usize;
        set &= set.wrapping_sub(1);
        (bit < 16).then_some(bit)
    })
}

/// How much adding `literal` to a bucket of `members` raises its cost.
fn added_cost(literals: &[Vec<u8>], members: &[usize], literal: usize) -> f64 {
    let mut with = members.to_vec();
    with.push(literal);
    cost(literals, &with) - cost(literals, members)
}

/// The literal's fingerprint bytes with ASCII letters in lower case.
fn folded_key(literal: &[u8]) -> Vec<u8> {
    literal
        .iter()
        .take(FINGERPRINT_LEN)
        .map(u8::to_ascii_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literals(texts: &[&str]) -> Vec<Vec<u8>> {
        texts.iter().map(|t| t.as_bytes().to_vec()).collect()
    }

    #[test]
    fn every_literal_is_in_exactly_one_bucket() {
        let lits: Vec<Vec<u8>> = (0..200).map(|i| format!("k{i:03}x").into_bytes()).collect();
        let buckets = assign(&lits);
        assert_eq!(buckets.len(), BUCKETS);
        let mut all: Vec<usize> = buckets.concat();
        all.sort_unstable();
        assert_eq!(all, (0..lits.len()).collect::<Vec<_>>());
    }

    #[test]
    fn case_variants_share_a_bucket_and_unlike_literals_do_not() {
        // `Pass` beside `pass` accepts only what it adds itself (`p`/`P` differ in one bit).
        let lits = literals(&["pass", "Pass", "http", "AKIA", "xox"]);
        let buckets = assign(&lits);
        let bucket_of = |i: usize| buckets.iter().position(|b| b.contains(&i)).unwrap();
        assert_eq!(bucket_of(0), bucket_of(1), "{buckets:?}");
        let distinct: std::collections::BTreeSet<usize> =
            [0, 2, 3, 4].into_iter().map(bucket_of).collect();
        assert_eq!(distinct.len(), 4, "{buckets:?}");
    }

    #[test]
    fn a_fingerprint_accepts_its_own_literals_and_anything_past_a_short_ones_end() {
        let lits = literals(&["pass", "Pass", "xo"]);
        let buckets = vec![vec![0, 1], vec![2]];
        let t = tables(&lits, &buckets);
        let accepts = |bucket: usize, k: usize, byte: u8| {
            let (set, bit) = (bucket / 8, 1u8 << (bucket % 8));
            let lane = 16 * (byte as usize % 2);
            t.low[k][set][lane + (byte & 0x0f) as usize] & bit != 0
                && t.high[k][set][lane + (byte >> 4) as usize] & bit != 0
        };
        for (k, (&lower, &upper)) in b"pass".iter().zip(b"Pass").enumerate() {
            assert!(accepts(0, k, lower) && accepts(0, k, upper));
        }
        assert!(!accepts(0, 0, b'q'), "q is neither p nor P");
        assert!(accepts(1, 0, b'x') && accepts(1, 1, b'o') && !accepts(1, 0, b'o'));
        assert!((0..=255).all(|b| accepts(1, 2, b) && accepts(1, 3, b)));
    }
}
