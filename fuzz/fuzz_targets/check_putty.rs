//! `putty-key`: the input as a `.ppk` file's text; or, when it starts with a control byte
//! (flags), its bytes, split at a point the second byte chooses, as the public and the
//! private blob of a `.ppk` whose lines are well formed, so that mutations reach the SSH wire
//! parser behind the base64. Whole and as a match cut at its rule's `max_len`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapsift_fuzz::checks::{base64_lines, run};

fuzz_target!(|data: &[u8]| {
    let text = match data {
        [flags @ 0..0x20, split, rest @ ..] => {
            let (public, private) = rest.split_at(rest.len() * usize::from(*split) / 255);
            let algorithm = match flags & 3 {
                0 => "ssh-rsa",
                1 => "ssh-ed25519",
                2 => "ecdsa-sha2-nistp256",
                _ => "ssh-dss",
            };
            let (public, private) = (base64_lines(public), base64_lines(private));
            format!(
                "PuTTY-User-Key-File-{}: {algorithm}\nEncryption: {}\nComment: fuzz\n\
                 Public-Lines: {}\n{public}Private-Lines: {}\n{private}Private-MAC: {}\n",
                if flags & 4 != 0 { 3 } else { 2 },
                if flags & 8 != 0 { "aes256-cbc" } else { "none" },
                public.lines().count(),
                private.lines().count(),
                "0".repeat(if flags & 4 != 0 { 64 } else { 40 }),
            )
            .into_bytes()
        }
        _ => data.to_vec(),
    };
    run("putty-key", &text, &text);
});
