//! The XFS walker: superblock, AG headers and free list, the AGs' B+trees, inode chunks,
//! inodes and their forks (extent lists, extent B+trees), directories of every form and the
//! remnants of removed entries; the input is the volume, on an in-memory disk.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapsift_disk::MemoryDisk;
use snapsift_fs::XfsMap;

fuzz_target!(|data: &[u8]| {
    let disk = MemoryDisk::new(data.to_vec());
    let volume = 0..data.len() as u64;
    if let Ok(map) = XfsMap::build(&disk, volume.clone()) {
        snapsift_fuzz::filesystem::walk(&disk, volume, &map);
    }
});
