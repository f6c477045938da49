//! VHD: fixed, dynamic and differencing (the input's second file is `b`, the parent).
#![no_main]

use libfuzzer_sys::fuzz_target;

/// A VHD's cookie starts its footer, the last 512 (or 511) bytes, and a dynamic VHD's copy of
/// the footer at its start.
fn is_vhd(image: &[u8]) -> bool {
    const COOKIE: &[u8] = b"conectix";
    image.starts_with(COOKIE)
        || [512, 511]
            .iter()
            .any(|&n| image.len() >= n && image[image.len() - n..].starts_with(COOKIE))
}

fuzz_target!(|data: &[u8]| {
    snapsift_fuzz::disk::open_and_scan(data, is_vhd);
});
