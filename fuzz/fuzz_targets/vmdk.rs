//! VMDK: monolithicSparse and streamOptimized extents, descriptors naming extents and parents
//! (the input's next files are `b` and `c`), and OVA archives holding a VMDK.
#![no_main]

use libfuzzer_sys::fuzz_target;

fn is_vmdk(image: &[u8]) -> bool {
    image.starts_with(b"KDMV")
        || image.starts_with(b"# Disk DescriptorFile")
        || image.get(257..262) == Some(b"ustar")
}

fuzz_target!(|data: &[u8]| {
    snapsift_fuzz::disk::open_and_scan(data, is_vmdk);
});
