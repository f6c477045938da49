//! Verifying a candidate: which literals, if any, occur where the fingerprint stopped.
//!
//! A candidate's first 4 bytes are read as one word, its letters made lower case (literals are
//! found in any ASCII case, and are held in lower case). For each prefix length among the
//! literals (a literal's first 4 bytes, or all of it if shorter), a small hash table maps the
//! prefix to the literals that begin with it, and only those are compared whole, ignoring
//! ASCII case. That costs a
//! multiplication and a load or two per candidate whatever the number of literals, and takes
//! no branch per bucket or per literal, which matters because most candidates are false.

use super::buckets::FINGERPRINT_LEN;

/// Marks an empty slot and the end of a chain.
const NONE: u32 = u32::MAX;

/// The literals by their prefixes (see the module docs).
#[derive(Debug)]
pub(crate) struct PrefixIndex {
    /// One table per prefix length present, shortest first.
    tables: Vec<PrefixTable>,
    /// For each literal, the next literal with the same prefix, or [`NONE`].
    next: Vec<u32>,
}

/// The literals whose prefixes have one length.
#[derive(Debug)]
struct PrefixTable {
    /// 0xff for each byte of a word that the prefix covers.
    mask: u32,
    /// How far the hash's product is shifted down: 32 minus the table's size in bits.
    shift: u32,
    /// Open addressing with linear probing: a prefix and the first literal that has it, or
    /// [`NONE`] for an empty slot.
    slots: Vec<(u32, u32)>,
}

impl PrefixTable {
    fn slot_of(&self, prefix: u32) -> usize {
        // Fibonacci hashing: the top bits of the product mix every byte of the prefix.
        (prefix.wrapping_mul(0x9e37_79b1) >> self.shift) as usize
    }
}

impl PrefixIndex {
    /// The index of `literals` (none empty, fewer than `u32::MAX`, in lower case).
    pub(crate) fn new(literals: &[Vec<u8>]) -> PrefixIndex {
        let mut next = vec![NONE; literals.len()];
        let mut tables = Vec::new();
        for len in 1..=FINGERPRINT_LEN {
            let members: Vec<usize> = (0..literals.len())
                .filter(|&i| literals[i].len().min(FINGERPRINT_LEN) == len)
                .collect();
            if members.is_empty() {
                continue;
            }
            // At most a quarter full, so probes are short.
            let bits = (members.len() * 4)
                .next_power_of_two()
                .max(16)
                .trailing_zeros();
            let mut table = PrefixTable {
                mask: if len == 4 {
                    u32::MAX
                } else {
                    (1 << (8 * len)) - 1
                },
                shift: 32 - bits,
                slots: vec![(0, NONE); 1 << bits],
            };
            // In reverse, so that each chain lists its literals in increasing order.
            for &i in members.iter().rev() {
                let prefix = word(&literals[i]);
                let mut slot = table.slot_of(prefix);
                loop {
                    let (p, first) = table.slots[slot];
                    if first == NONE {
                        table.slots[slot] = (prefix, i as u32);
                        break;
                    }
                    if p == prefix {
                        next[i] = first;
                        table.slots[slot].1 = i as u32;
                        break;
                    }
                    slot = (slot + 1) & (table.slots.len() - 1);
                }
            }
            tables.push(table);
        }
        PrefixIndex { tables, next }
    }

    /// Calls `found(position, literal)` for each of `literals` (the ones this index was made
    /// of) that occurs, in any ASCII case, at `position` of `text`, whose first 4 bytes, zero
    /// past the end of `text`, are `word`.
    #[inline(always)]
    pub(crate) fn verify(
        &self,
        literals: &[Vec<u8>],
        text: &[u8],
        position: usize,
        word: u32,
        found: &mut impl FnMut(usize, usize),
    ) {
        let word = fold_word(word);
        for table in &self.tables {
            let prefix = word & table.mask;
            let mut slot = table.slot_of(prefix);
            let mut literal = loop {
                let (p, first) = table.slots[slot];
                if p == prefix || first == NONE {
                    break first;
                }
                slot = (slot + 1) & (table.slots.len() - 1);
            };
            while literal != NONE {
                let bytes = &literals[literal as usize];
                // The prefix is equal; what remains is the rest, and that it fits in `text`.
                let end = position.saturating_add(bytes.len());
                let rest_equal = match bytes.get(FINGERPRINT_LEN..) {
                    None | Some([]) => end <= text.len(),
                    Some(rest) => text
                        .get(position + FINGERPRINT_LEN..end)
                        .is_some_and(|t| t.eq_ignore_ascii_case(rest)),
                };
                if rest_equal {
                    found(position, literal as usize);
                }
                literal = self.next[literal as usize];
            }
        }
    }
}

/// `word` with its ASCII capital letters made lower case, all 4 bytes at once: a byte is a
/// capital if adding `0x80 - b'A'` sets its top bit and adding `0x80 - b'Z' - 1` does not
/// (bytes with the top bit set are left out first), and then gets `0x20` added.
fn fold_word(word: u32) -> u32 {
    const ONES: u32 = 0x0101_0101;
    let ascii = !word & 0x8080_8080;
    let seven = word & 0x7f7f_7f7f;
    let at_least_a = seven.wrapping_add(ONES * (0x80 - u32::from(b'A')));
    let above_z = seven.wrapping_add(ONES * (0x80 - u32::from(b'Z') - 1));
    let capital = ascii & at_least_a & !above_z;
    word | (capital >> 2)
}

/// The first (up to) 4 bytes of `literal` as a little-endian word, zero past its end.
pub(crate) fn word(literal: &[u8]) -> u32 {
    let mut bytes = [0u8; 4];
    for (k, &b) in literal.iter().take(FINGERPRINT_LEN).enumerate() {
        bytes[k] = b;
    }
    u32::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folded_word_is_each_byte_in_lower_case() {
        // Every byte at every one of the 4 places, among neighbours that vary too.
        for b in 0..=255u8 {
            for place in 0..4 {
                let mut bytes = [b'@', b'[', b'`', b'{'];
                bytes[place] = b;
                let expected = u32::from_le_bytes(bytes.map(|x| x.to_ascii_lowercase()));
                let word = u32::from_le_bytes(bytes);
                assert_eq!(fold_word(word), expected, "{bytes:?}");
            }
        }
    }
}
