//! The LUKS metadata parsers: a LUKS1 header's keyslots, or a LUKS2 header's JSON text (its
//! checksum not checked, so that the text is parsed), and the ciphers they name. No key is
//! derived (a header's costs are the user's to pay only with a key file).
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapsift_fs::volume::luks;

fuzz_target!(|data: &[u8]| {
    let _ = luks::describe(data);
});
