//! GPT (primary and backup) and MBR (with extended partitions) on an in-memory disk, then the
//! filesystems the volumes hold, as a scan maps them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapsift_disk::MemoryDisk;

fuzz_target!(|data: &[u8]| {
    snapsift_fuzz::filesystem::volumes(&MemoryDisk::new(data.to_vec()));
});
