//! GPT (primary and backup) and MBR (with extended partitions) on an in-memory disk, LVM2
//! physical volumes and their logical volumes, LUKS and other volume headers, APFS containers (object map and volume superblocks), then
//! the filesystems the volumes hold, as a scan maps them. Inputs of even length have their
//! LVM2 and APFS checksums sealed first (see `snapsift_fuzz::lvm` and `snapsift_fuzz::apfs`),
//! so that the metadata text and the APFS objects are parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapsift_disk::MemoryDisk;

fuzz_target!(|data: &[u8]| {
    let mut disk = data.to_vec();
    if disk.len() % 2 == 0 {
        snapsift_fuzz::lvm::seal(&mut disk);
        snapsift_fuzz::apfs::seal(&mut disk);
    }
    snapsift_fuzz::filesystem::volumes(&MemoryDisk::new(disk));
});
