//! `jwt`: the input as the token; or, when it starts with a control byte (flags), its bytes
//! split at `.` into header, payload and signature, each encoded as base64url (padded with
//! flag 1), so that mutations reach the JSON header's reading behind the encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapsift_fuzz::checks::{base64, run};

fuzz_target!(|data: &[u8]| {
    let token = match data.split_first() {
        Some((&flags @ 0..0x20, rest)) => rest
            .splitn(3, |&b| b == b'.')
            .map(|part| base64(part, flags & 1 != 0, true))
            .collect::<Vec<_>>()
            .join(".")
            .into_bytes(),
        _ => data.to_vec(),
    };
    run("jwt", &token, &token);
});
