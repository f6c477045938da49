//! What a volume holds, from the signatures at its start (no I/O).

use super::{apfs, luks};

/// The bytes [`detect`] needs from the start of a volume: enough to reach the btrfs
/// superblock at 64 KiB.
pub(crate) const PROBE_LEN: usize = 0x1_0000 + 0x1000;

/// What a volume (or a whole disk without a partition table) holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Content {
    /// ext2, ext3 or ext4.
    Ext,
    /// NTFS.
    Ntfs,
    /// FAT12, FAT16 or FAT32 (an EFI system partition, say).
    Fat,
    /// exFAT.
    ExFat,
    /// XFS.
    Xfs,
    /// btrfs.
    Btrfs,
    /// An LVM2 physical volume.
    Lvm,
    /// Linux swap.
    Swap,
    /// A LUKS1-encrypted volume.
    Luks1,
    /// A LUKS2-encrypted volume.
    Luks2,
    /// A BitLocker-encrypted volume.
    BitLocker,
    /// An APFS container; `encrypted` when one of its volumes is (FileVault), as its volume
    /// superblocks say (see [`VolumeMap::read`](super::VolumeMap::read)).
    Apfs {
        /// Whether any of its volumes is encrypted.
        encrypted: bool,
    },
    /// No signature, and bytes that look random from the first on: a volume encrypted
    /// without a header in the clear (VeraCrypt, TrueCrypt, plain dm-crypt).
    HighEntropy,
    /// Nothing recognised: read as raw bytes only.
    #[default]
    Unknown,
}

impl Content {
    /// For an encrypted volume, how the coverage names it (`LUKS2`): its contents cannot be
    /// read without its key, so they are never reported as scanned. `None` for the others.
    pub fn encryption(self) -> Option<&'static str> {
        match self {
            Content::Luks1 => Some("LUKS1"),
            Content::Luks2 => Some("LUKS2"),
            Content::BitLocker => Some("BitLocker"),
            Content::Apfs { encrypted: true } => Some("APFS, FileVault"),
            Content::HighEntropy => Some("VeraCrypt-like: no signature, high entropy"),
            _ => None,
        }
    }

    /// The usual name, as output shows it.
    pub fn name(self) -> &'static str {
        match self {
            Content::Ext => "ext4",
            Content::Ntfs => "ntfs",
            Content::Fat => "fat",
            Content::ExFat => "exfat",
            Content::Xfs => "xfs",
            Content::Btrfs => "btrfs",
            Content::Lvm => "lvm2",
            Content::Swap => "swap",
            Content::Luks1 => "luks1",
            Content::Luks2 => "luks2",
            Content::BitLocker => "bitlocker",
            Content::Apfs { .. } => "apfs",
            Content::HighEntropy => "high-entropy",
            Content::Unknown => "unknown",
        }
    }
}

/// Whether `bytes` has `magic` at `at`.
fn has(bytes: &[u8], at: usize, magic: &[u8]) -> bool {
    at.checked_add(magic.len())
        .and_then(|end| bytes.get(at..end))
        .is_some_and(|found| found == magic)
}

/// The sector sizes an LVM2 label may be written in, and how many of the first sectors it
/// may be in (LVM looks in the first four 512-byte sectors).
const LVM_LABEL_SECTORS: usize = 4;
/// The page sizes a swap area may have been made for: its signature ends its first page.
const SWAP_PAGE_SIZES: [usize; 4] = [4096, 8192, 16384, 65536];

/// Names the content of a volume from its first bytes (up to [`PROBE_LEN`]).
pub(crate) fn detect(start: &[u8]) -> Content {
    if has(start, 1024 + 56, &[0x53, 0xef]) {
        Content::Ext
    } else if has(start, 3, b"NTFS    ") {
        Content::Ntfs
    } else if has(start, 3, b"EXFAT   ") {
        Content::ExFat
    } else if has(start, 3, b"-FVE-FS-") {
        Content::BitLocker
    } else if let Some(version) = luks::version(start) {
        if version == 1 {
            Content::Luks1
        } else {
            Content::Luks2
        }
    } else if has(start, 0, b"XFSB") {
        Content::Xfs
    } else if has(start, 0x1_0040, b"_BHRfS_M") {
        Content::Btrfs
    } else if (0..LVM_LABEL_SECTORS).any(|sector| {
        let at = sector.saturating_mul(512);
        has(start, at, b"LABELONE") && has(start, at.saturating_add(24), b"LVM2 001")
    }) {
        Content::Lvm
    } else if SWAP_PAGE_SIZES
        .iter()
        .any(|page| has(start, page.saturating_sub(10), b"SWAPSPACE2"))
    {
        Content::Swap
    } else if has(start, 510, &[0x55, 0xaa])
        && (has(start, 54, b"FAT1")
            || has(start, 82, b"FAT32   ")
            || crate::fat::boot::parse(start).is_ok())
    {
        Content::Fat
    } else if has(start, 32, apfs::NX_MAGIC) {
        Content::Apfs { encrypted: false }
    } else if looks_encrypted(start) {
        Content::HighEntropy
    } else {
        Content::Unknown
    }
}

/// How many bytes from the start of a volume must look random for it to be taken as
/// encrypted without a header: VeraCrypt's header area is 64 KiB of salt and ciphertext.
const RANDOM_SPAN: usize = 0x1_0000;
/// Bytes are weighed for randomness in blocks of this many.
const RANDOM_BLOCK: usize = 4096;
/// The least Shannon entropy, in bits per byte, a block of [`RANDOM_BLOCK`] random bytes
/// shows: uniform bytes give 7.955 on average, a few thousandths either side; compressed data
/// comes close, text and code stay far below (about 4.5 and 6).
const RANDOM_ENTROPY: f64 = 7.9;
/// Signatures of compressed or archived data, which is as random as ciphertext after them.
const COMPRESSED: [&[u8]; 8] = [
    &[0x1f, 0x8b],
    &[0x28, 0xb5, 0x2f, 0xfd],
    &[0xfd, b'7', b'z', b'X', b'Z', 0],
    b"BZh",
    b"hsqs",
    b"7z\xbc\xaf\x27\x1c",
    b"PK\x03\x04",
    &[0x04, 0x22, 0x4d, 0x18],
];

/// Whether the first [`RANDOM_SPAN`] bytes of a volume look like ciphertext: in every block
/// of them, the bytes and the differences between neighbours both close to 8 bits of entropy
/// per byte (the differences tell a cycle through every byte value, as uniform as ciphertext
/// byte by byte, from it), and no signature of compressed data in front.
fn looks_encrypted(start: &[u8]) -> bool {
    let Some(span) = start.get(..RANDOM_SPAN) else {
        return false;
    };
    !COMPRESSED.iter().any(|magic| span.starts_with(magic))
        && span.chunks_exact(RANDOM_BLOCK).all(|block| {
            let differences = block.windows(2).map(|pair| pair[1].wrapping_sub(pair[0]));
            entropy(block.iter().copied()) >= RANDOM_ENTROPY
                && entropy(differences) >= RANDOM_ENTROPY
        })
}

/// The Shannon entropy of `bytes`, in bits per byte.
fn entropy(bytes: impl Iterator<Item = u8>) -> f64 {
    let mut counts = [0u32; 256];
    let mut len = 0u32;
    for b in bytes {
        let count = &mut counts[usize::from(b)];
        *count = count.saturating_add(1);
        len = len.saturating_add(1);
    }
    let len = f64::from(len);
    counts
        .iter()
        .filter(|&&n| n > 0)
        .map(|&n| {
            let p = f64::from(n) / len;
            -p * p.log2()
        })
        .sum()
}

/// A UUID stored as 16 bytes in the order it is printed (as swap and APFS store theirs),
/// grouped 8-4-4-4-12 in lower-case hex.
pub(crate) fn uuid_in_order(raw: &[u8; 16]) -> String {
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The UUID the header of a volume holding `content` records, from its first bytes, as its
/// tools print it: LUKS (`cryptsetup luksUUID`) and swap (`swaplabel`). `None` for other
/// contents, and for a UUID that is all zeros or not in the form its tools write.
pub(crate) fn uuid(start: &[u8], content: Content) -> Option<String> {
    match content {
        Content::Luks1 | Content::Luks2 => luks::parse(start).ok()?.uuid,
        Content::Swap => {
            // swap_header.info: version, last_page, nr_badpages, then the UUID.
            let raw: &[u8; 16] = start.get(1024 + 12..1024 + 28)?.try_into().ok()?;
            (raw != &[0; 16]).then(|| uuid_in_order(raw))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let mut ext = vec![0u8; 2048];
        ext[1080..1082].copy_from_slice(&[0x53, 0xef]);
        assert_eq!(detect(&ext), Content::Ext);
        let mut ntfs = vec![0u8; 512];
        ntfs[3..11].copy_from_slice(b"NTFS    ");
        assert_eq!(detect(&ntfs), Content::Ntfs);
        assert_eq!(detect(&[0u8; 100]), Content::Unknown);
        assert_eq!(detect(&[]), Content::Unknown);
        let mut bitlocker = vec![0u8; 512];
        bitlocker[3..11].copy_from_slice(b"-FVE-FS-");
        assert_eq!(detect(&bitlocker), Content::BitLocker);
        assert_eq!(Content::BitLocker.encryption(), Some("BitLocker"));
    }

    #[test]
    fn random_bytes_are_told_from_cycles_text_and_compressed_data() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let random: Vec<u8> = (0..PROBE_LEN)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()[3]
            })
            .collect();
        assert_eq!(detect(&random), Content::HighEntropy);
        assert_eq!(detect(&random[..RANDOM_SPAN - 1]), Content::Unknown);
        let mut zstd = random.clone();
        zstd[..4].copy_from_slice(&[0x28, 0xb5, 0x2f, 0xfd]);
        assert_eq!(detect(&zstd), Content::Unknown);
        let mut late_zeros = random.clone();
        late_zeros[RANDOM_SPAN - 2048..RANDOM_SPAN].fill(0);
        assert_eq!(detect(&late_zeros), Content::Unknown);
        // Every byte value as often as the others, but in a cycle.
        let cycle: Vec<u8> = (0..PROBE_LEN).map(|i| (i * 7 + i / 3) as u8).collect();
        assert_eq!(detect(&cycle), Content::Unknown);
    }

    #[test]
    fn lvm_labels_in_any_of_the_first_four_sectors() {
        for sector in 0..4 {
            let mut pv = vec![0u8; 4096];
            pv[sector * 512..][..8].copy_from_slice(b"LABELONE");
            pv[sector * 512 + 24..][..8].copy_from_slice(b"LVM2 001");
            assert_eq!(detect(&pv), Content::Lvm, "sector {sector}");
        }
        let mut late = vec![0u8; 4096];
        late[4 * 512..][..8].copy_from_slice(b"LABELONE");
        late[4 * 512 + 24..][..8].copy_from_slice(b"LVM2 001");
        assert_eq!(detect(&late), Content::Unknown);
    }

    #[test]
    fn swap_of_every_page_size() {
        for page in SWAP_PAGE_SIZES {
            let mut swap = vec![0u8; PROBE_LEN];
            swap[page - 10..page].copy_from_slice(b"SWAPSPACE2");
            assert_eq!(detect(&swap), Content::Swap, "{page}");
            assert_eq!(uuid(&swap, Content::Swap), None);
            swap[1036..1052].copy_from_slice(&[0xab; 16]);
            assert_eq!(
                uuid(&swap, Content::Swap).as_deref(),
                Some("abababab-abab-abab-abab-abababababab")
            );
        }
    }
}
