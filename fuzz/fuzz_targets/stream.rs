//! Raw images compressed as a whole (`.raw.zst`, `.img.gz`, as `snapsift_disk::open_image`
//! opens them): the decompressed disk read front to back, up to the read budget.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    snapsift_fuzz::disk::open_and_stream(data);
});
