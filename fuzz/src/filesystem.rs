//! Mapping a disk's volumes and filesystems, and reading every file they list, the way the
//! scan and its file pass do.

use std::io::Read;
use std::ops::Range;

use snapsift_disk::Disk;
use snapsift_fs::{Filesystem, VolumeMap};

use crate::READ_BUDGET;

/// How many offsets of a volume [`walk`] asks the filesystem about.
const LOCATE_SAMPLES: u64 = 4096;

/// Reads the partition table of `disk`, then maps and walks the filesystem of every volume.
///
/// Panics if a volume lies outside the disk, or is empty on a disk that is not (the scan
/// trusts the map's ranges), or cannot be found by its first byte.
pub fn volumes(disk: &dyn Disk) {
    let Ok(map) = VolumeMap::read(disk) else {
        return;
    };
    let size = disk.size();
    for volume in &map.volumes {
        let range = &volume.range;
        assert!(
            (range.start < range.end || size == 0) && range.end <= size,
            "volume {volume:?} on a disk of {size} bytes"
        );
        assert!(range.is_empty() || map.volume_at(range.start).is_some());
    }
    for volume in &map.volumes {
        if let Ok(Some(fs)) = snapsift_fs::open(disk, volume) {
            walk(disk, volume.range.clone(), &*fs);
        }
    }
}

/// Reads the contents of every file `fs` lists (up to [`READ_BUDGET`] bytes in all) through
/// its [`snapsift_fs::ContentReader`], and locates offsets across the whole `volume`.
///
/// Panics if a file's reader fails other than by an I/O error (which carries a disk or
/// corruption error, an answer), or reads more than the file's size.
pub fn walk(disk: &dyn Disk, volume: Range<u64>, fs: &dyn Filesystem) {
    let mut budget = READ_BUDGET;
    let mut buf = vec![0u8; 64 << 10];
    for file in fs.files() {
        let _ = file.content.seams();
        let mut reader = file.content.reader(disk, volume.start);
        let mut read = 0u64;
        while budget > 0 {
            let want = buf.len().min(budget as usize);
            match reader.read(&mut buf[..want]) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    read += n as u64;
                    budget -= n as u64;
                }
            }
        }
        assert!(
            read <= file.content.size,
            "{} bytes read from {file:?}",
            read
        );
        let _ = file.content.volume_range(0..file.content.size.min(4096));
    }
    let len = volume.end - volume.start;
    let step = (len / LOCATE_SAMPLES).max(1);
    let mut offset = 0;
    while offset < len {
        let _ = fs.locate(offset);
        offset += step;
    }
    let _ = fs.locate(len);
    let _ = fs.notes();
}
