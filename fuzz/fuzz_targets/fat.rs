//! The FAT12/16/32 and exFAT walker: boot sector (exFAT: boot regions and their checksums),
//! FAT entries and cluster chains (loops, cross links), exFAT's allocation bitmap and
//! contiguous files, directories with long names, entry sets and deleted entries, deleted
//! files' clusters; the input is the volume, on an in-memory disk.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapsift_disk::MemoryDisk;
use snapsift_fs::FatMap;

fuzz_target!(|data: &[u8]| {
    let disk = MemoryDisk::new(data.to_vec());
    let volume = 0..data.len() as u64;
    if let Ok(map) = FatMap::build(&disk, volume.clone()) {
        snapsift_fuzz::filesystem::walk(&disk, volume, &map);
    }
});
