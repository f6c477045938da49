//! The LUKS metadata parsers: a LUKS1 header's keyslots, or a LUKS2 header's JSON text (its
//! checksum not checked, so that the text is parsed), and the ciphers they name. No key is
//! derived (a header's costs are the user's to pay only with a key file). So that mutations
//! reach the parsers, an input starting with `{` is made the JSON text of a LUKS2 header, and
//! one starting with byte 1 the fields of a LUKS1 header after its magic; others are read as
//! they are.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapsift_fs::volume::luks;

fuzz_target!(|data: &[u8]| {
    let mut header = Vec::with_capacity(data.len() + 4096);
    match data.first() {
        Some(b'{') => {
            header.extend_from_slice(b"LUKS\xba\xbe\x00\x02");
            header.resize(4096, 0);
            header.extend_from_slice(data);
        }
        Some(1) => {
            header.extend_from_slice(b"LUKS\xba\xbe\x00\x01");
            header.extend_from_slice(&data[1..]);
        }
        _ => header.extend_from_slice(data),
    }
    let _ = luks::describe(&header);
});
