//! Integers read from on-disk bytes: every filesystem and volume parser here reads its fields
//! through these, each giving 0 where `bytes` ends before the field does (the parsers check
//! lengths first; a short read is never a panic).

/// The little-endian `u16` at `at` in `bytes`, 0 if it is not all there.
pub(crate) fn le16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(array(bytes, at))
}

/// The little-endian `u32` at `at` in `bytes`, 0 if it is not all there.
pub(crate) fn le32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(array(bytes, at))
}

/// The little-endian `u64` at `at` in `bytes`, 0 if it is not all there.
pub(crate) fn le64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(array(bytes, at))
}

/// The big-endian `u16` at `at` in `bytes`, 0 if it is not all there.
pub(crate) fn be16(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes(array(bytes, at))
}

/// The big-endian `u32` at `at` in `bytes`, 0 if it is not all there.
pub(crate) fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(array(bytes, at))
}

/// The big-endian `u64` at `at` in `bytes`, 0 if it is not all there.
pub(crate) fn be64(bytes: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(array(bytes, at))
}

/// The `N` bytes at `at` in `bytes`, all zeros if they are not all there.
fn array<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    at.checked_add(N)
        .and_then(|end| bytes.get(at..end))
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .unwrap_or([0; N])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_orders_and_gives_zero_past_the_end() {
        let bytes = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(le16(&bytes, 1), 0x0302);
        assert_eq!(be16(&bytes, 1), 0x0203);
        assert_eq!(le32(&bytes, 0), 0x0403_0201);
        assert_eq!(be32(&bytes, 0), 0x0102_0304);
        assert_eq!(le64(&bytes, 1), 0x0908_0706_0504_0302);
        assert_eq!(be64(&bytes, 0), 0x0102_0304_0506_0708);
        assert_eq!(le32(&bytes, 6), 0, "only 3 bytes there");
        assert_eq!(le64(&bytes, 2), 0, "only 7 bytes there");
        assert_eq!(be16(&bytes, usize::MAX), 0);
    }
}
