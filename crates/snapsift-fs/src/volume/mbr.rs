//! MBR partition tables, with extended partitions' chains of EBRs, parsed from bytes (no I/O).

use super::Problem;

/// Partition types of an extended partition (CHS, LBA, Linux).
const EXTENDED: [u8; 3] = [0x05, 0x0f, 0x85];
/// The protective partition type of a GPT disk.
pub(crate) const GPT_PROTECTIVE: u8 = 0xee;
/// [`GPT_PROTECTIVE`] as a volume's partition type names it.
pub(crate) const GPT_PROTECTIVE_NAME: &str = "0xee";
/// A chain of more EBRs than this is taken to loop: Linux numbers at most 256 partitions.
pub(crate) const MAX_LOGICAL: usize = 256;

/// One entry of an MBR or EBR partition table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The partition type byte.
    pub(crate) kind: u8,
    /// First sector, relative to what the table's kind says.
    pub(crate) start: u32,
    /// Sectors.
    pub(crate) sectors: u32,
}

impl Entry {
    /// Whether this entry is an extended partition (a container of logical ones).
    pub(crate) fn is_extended(&self) -> bool {
        EXTENDED.contains(&self.kind)
    }
}

/// The four entries of the table in a boot sector, unused ones left out, with their slot
/// numbers (1 to 4). Fails if the sector has no boot signature.
pub(crate) fn parse(sector: &[u8]) -> Result<Vec<(u32, Entry)>, Problem> {
    if sector.get(510..512) != Some(&[0x55, 0xaa][..]) {
        return Err(Problem("no boot signature".into()));
    }
    let mut entries = Vec::new();
    // The table: four 16-byte entries from byte 446, numbered 1 to 4.
    for (slot, raw) in (1u32..).zip(sector[446..510].chunks_exact(16)) {
        if raw[0] & 0x7f != 0 {
            return Err(Problem(format!(
                "partition entry {slot} has an invalid status byte"
            )));
        }
        let entry = Entry {
            kind: raw[4],
            start: u32::from_le_bytes([raw[8], raw[9], raw[10], raw[11]]),
            sectors: u32::from_le_bytes([raw[12], raw[13], raw[14], raw[15]]),
        };
        if entry.kind != 0 && entry.sectors != 0 {
            entries.push((slot, entry));
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_and_signature() {
        let mut sector = vec![0u8; 512];
        assert!(parse(&sector).is_err());
        sector[510] = 0x55;
        sector[511] = 0xaa;
        assert!(parse(&sector).unwrap().is_empty());
        sector[446 + 4] = 0x83;
        sector[446 + 8..446 + 12].copy_from_slice(&2048u32.to_le_bytes());
        sector[446 + 12..446 + 16].copy_from_slice(&4096u32.to_le_bytes());
        let entries = parse(&sector).unwrap();
        assert_eq!(
            entries,
            vec![(
                1,
                Entry {
                    kind: 0x83,
                    start: 2048,
                    sectors: 4096
                }
            )]
        );
        sector[446] = 0x12;
        assert!(
            parse(&sector).is_err(),
            "a status byte other than 0 or 0x80"
        );
    }
}
