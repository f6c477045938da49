//! `pem-key` on text: the input as the match of a PEM private key rule (BEGIN and END lines,
//! RFC 1421 headers, JSON escapes, base64), whole and as a match cut at its rule's `max_len`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapsift_fuzz::checks::run;

fuzz_target!(|data: &[u8]| {
    run("pem-key", data, data);
});
