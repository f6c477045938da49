//! `base64:N` and `docker-auth` (base64 of `user:password`): the input as the secret, with
//! every minimum length the built-in rules use.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapsift_fuzz::checks::run;

fuzz_target!(|data: &[u8]| {
    for spec in [
        "base64:1",
        "base64:32",
        "base64:64",
        "base64:100",
        "base64:150",
        "docker-auth",
    ] {
        run(spec, data, data);
    }
});
