//! The NTFS layer: boot sector, MFT records and fixups, attributes, data runs, compressed
//! (LZNT1) streams, directories; the input is the volume, on an in-memory disk.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapsift_disk::MemoryDisk;
use snapsift_fs::NtfsMap;

fuzz_target!(|data: &[u8]| {
    let disk = MemoryDisk::new(data.to_vec());
    let volume = 0..data.len() as u64;
    if let Ok(map) = NtfsMap::build(&disk, volume.clone()) {
        snapsift_fuzz::filesystem::walk(&disk, volume, &map);
    }
});
