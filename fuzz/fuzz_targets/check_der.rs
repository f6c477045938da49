//! `pem-key` on DER: the input's bytes (after a first byte choosing the label) as the body of
//! a PEM private key block, so that mutations reach the DER, PKCS#1, SEC1, PKCS#8 and
//! OpenSSH parsers behind the base64, whole and as a match cut at its rule's `max_len`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapsift_fuzz::checks::{base64_lines, run};

/// The labels of the built-in PEM private key rules.
const LABELS: [&str; 6] = [
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "DSA PRIVATE KEY",
    "PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
    "OPENSSH PRIVATE KEY",
];

fuzz_target!(|data: &[u8]| {
    let Some((&choice, der)) = data.split_first() else {
        return;
    };
    let label = LABELS[usize::from(choice) % LABELS.len()];
    let block = format!(
        "-----BEGIN {label}-----\n{}-----END {label}-----",
        base64_lines(der)
    );
    run("pem-key", block.as_bytes(), block.as_bytes());
});
