//! Sealing APFS objects in a fuzz input: every 4 KiB block whose object type is one the
//! volume probe reads (container and volume superblocks, object maps and their B-tree nodes)
//! gets its Fletcher-64 checksum made to match, so that mutations reach the parsers behind
//! the check (libFuzzer cannot compute one). The check itself is exercised by inputs left as
//! they are.

/// The object types `snapsift-fs` reads in an APFS container.
const SEALED_TYPES: [u32; 5] = [0x1, 0x2, 0x3, 0xb, 0xd];

/// APFS's Fletcher-64 of `block`, over all but its first 8 bytes.
fn fletcher64(block: &[u8]) -> u64 {
    let (mut sum1, mut sum2) = (0u64, 0u64);
    for word in block[8..].chunks_exact(4) {
        let word = u32::from_le_bytes(word.try_into().unwrap());
        sum1 = (sum1 + u64::from(word)) % 0xffff_ffff;
        sum2 = (sum2 + sum1) % 0xffff_ffff;
    }
    let check1 = 0xffff_ffff - (sum1 + sum2) % 0xffff_ffff;
    let check2 = 0xffff_ffff - (sum1 + check1) % 0xffff_ffff;
    (check2 << 32) | check1
}

/// Seals every 4 KiB block of `disk` that holds an object of a type the probe reads.
pub fn seal(disk: &mut [u8]) {
    for block in disk.chunks_exact_mut(4096) {
        let object_type = u32::from_le_bytes(block[24..28].try_into().unwrap()) & 0xffff;
        if SEALED_TYPES.contains(&object_type) {
            let sum = fletcher64(block);
            block[..8].copy_from_slice(&sum.to_le_bytes());
        }
    }
}
