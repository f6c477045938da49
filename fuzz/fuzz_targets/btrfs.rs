//! The btrfs walker: superblock and system chunks, the chunk tree, the root, device, extent
//! and FS trees (inodes, names, file extents), and the file contents it lists read through
//! (inline, regular and zlib/LZO/zstd compressed extents decoded); the input is the volume,
//! on an in-memory disk.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapsift_disk::MemoryDisk;
use snapsift_fs::BtrfsMap;

fuzz_target!(|data: &[u8]| {
    let disk = MemoryDisk::new(data.to_vec());
    let volume = 0..data.len() as u64;
    if let Ok(map) = BtrfsMap::build(&disk, volume.clone()) {
        snapsift_fuzz::filesystem::walk(&disk, volume, &map);
    }
});
