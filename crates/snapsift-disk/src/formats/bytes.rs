//! Big-endian and little-endian integers at fixed offsets of a parsed structure.
//!
//! The offsets are constants of the format and every caller passes a slice long enough for
//! them (the structures are read whole, at their fixed sizes); a shorter slice reads as zeros
//! rather than panicking, which the structure checks (signatures, checksums) then refuse.

/// `N` bytes at `at`, zeros where `data` is too short.
pub(crate) fn array<const N: usize>(data: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = at.checked_add(N).and_then(|end| data.get(at..end)) {
        out.copy_from_slice(src);
    }
    out
}

/// A big-endian `u16` at `at`.
pub(crate) fn be16(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes(array(data, at))
}

/// A big-endian `u32` at `at`.
pub(crate) fn be32(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(array(data, at))
}

/// A big-endian `u64` at `at`.
pub(crate) fn be64(data: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(array(data, at))
}

/// A little-endian `u16` at `at`.
pub(crate) fn le16(data: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(array(data, at))
}

/// A little-endian `u32` at `at`.
pub(crate) fn le32(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(array(data, at))
}

/// A little-endian `u64` at `at`.
pub(crate) fn le64(data: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(array(data, at))
}
