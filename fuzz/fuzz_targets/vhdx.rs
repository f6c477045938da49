//! VHDX: headers, region tables, metadata, the BAT, differencing disks (the input's second
//! file is `b`, the parent).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    snapsift_fuzz::disk::open_and_scan(data, |image| image.starts_with(b"vhdxfile"));
});
