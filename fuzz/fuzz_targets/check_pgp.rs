//! `pgp-private-key`: the input as an armored block's text; or, when it starts with a control
//! byte (flags), the rest of its bytes as OpenPGP packets in an armored private key block,
//! with its CRC-24 (flag 1) or without, so that mutations reach the packet parser behind the
//! base64. Whole and as a match cut at its rule's `max_len`, at several places.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapsift_fuzz::checks::{base64, base64_lines, run};

/// The CRC-24 of RFC 4880 §6.1.
fn crc24(bytes: &[u8]) -> u32 {
    let mut crc: u32 = 0x00B7_04CE;
    for &b in bytes {
        crc ^= u32::from(b) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x0100_0000 != 0 {
                crc ^= 0x0186_4CFB;
            }
        }
    }
    crc & 0x00FF_FFFF
}

fuzz_target!(|data: &[u8]| {
    let block = match data.split_first() {
        Some((&flags @ 0..0x20, packets)) => {
            let checksum = if flags & 1 != 0 {
                let crc = crc24(packets).to_be_bytes();
                format!("={}\n", base64(&crc[1..], true, false))
            } else {
                String::new()
            };
            format!(
                "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{}{checksum}\
                 -----END PGP PRIVATE KEY BLOCK-----",
                base64_lines(packets)
            )
            .into_bytes()
        }
        _ => data.to_vec(),
    };
    run("pgp-private-key", &block, &block);
    // A match cut at max_len ends anywhere: inside a line, inside the checksum.
    for cut in [block.len() / 2, block.len() * 7 / 8] {
        run("pgp-private-key", &block[..cut], &block[..cut]);
    }
});
