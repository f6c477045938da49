//! snapsift-unpack with a zip file at the root (layers inside may be anything), with the file
//! pass's limits, every leaf read to its end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapsift_unpack::Kind;

fuzz_target!(|data: &[u8]| {
    snapsift_fuzz::unpack::expand(data, Kind::Zip);
});
