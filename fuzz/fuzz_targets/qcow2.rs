//! qcow2: header, L1 and L2 tables, compressed clusters, subclusters, backing chains (the
//! input's second file is `b`, the name seeds give the backing image).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    snapsift_fuzz::disk::open_and_scan(data, |image| image.starts_with(b"QFI\xfb"));
});
