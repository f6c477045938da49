//! The ext2/3/4 walker: superblock, group descriptors, inodes, extent trees, block maps,
//! directories, deleted inodes; the input is the volume, on an in-memory disk.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapsift_disk::MemoryDisk;
use snapsift_fs::Ext4Map;

fuzz_target!(|data: &[u8]| {
    let disk = MemoryDisk::new(data.to_vec());
    let volume = 0..data.len() as u64;
    if let Ok(map) = Ext4Map::build(&disk, volume.clone()) {
        snapsift_fuzz::filesystem::walk(&disk, volume, &map);
    }
});
