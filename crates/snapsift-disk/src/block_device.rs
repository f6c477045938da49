//! [`BlockDevice`]: an attached disk or partition, read with `pread`.

use std::path::Path;

use crate::host::Host;
use crate::{Disk, DiskError, check_bounds};

/// Reads at least this long (the byte sweep's windows) bypass the page cache when aligned.
///
/// The sweep reads every byte of the device once, in large aligned windows, on one thread
/// ahead of the searching threads ([`Disk::sequential`]). Read through the page cache, those
/// bytes cost a copy and page-cache work per byte, and one read is one readahead window in
/// flight; read with `O_DIRECT`, an 8 MiB read goes to the device as a batch of large requests
/// at once and lands in the buffer. On a read-only loop device over a 4 GiB image, cold cache,
/// a scan with a few rules ran at 95-120% of `dd bs=8M`'s rate this way, and at about 77% of
/// it through the cache (see `snapsift_scan`'s reader; with the full rule pack the two cores,
/// not the reads, set the pace).
///
/// Shorter reads (partition tables, filesystem metadata, the file pass's reads) use the page
/// cache, which serves their repeats. Direct reads only read: the kernel first writes back
/// dirty cached pages of the range, if a writer left any, so both ways read the same bytes.
const DIRECT_READ_MIN: usize = 1 << 20;

/// A block device (`/dev/nvme1n1`, `/dev/vdb`, `/dev/loop3`, a partition), opened `O_RDONLY`.
///
/// The size comes from the kernel (`BLKGETSIZE64`). Reads are positional (`pread`) into
/// page-aligned buffers, so threads share the descriptor without seeking. The device is read
/// best front to back by one thread ([`Disk::sequential`]): the kernel is told the access is
/// sequential so its readahead grows, and the long aligned reads of a scan bypass the page
/// cache (`O_DIRECT`, through a second read-only descriptor) where the device allows it.
#[derive(Debug)]
pub struct BlockDevice {
    host: Host,
    /// What [`Disk::notes`] reports: a container header seen at the start and not followed.
    notes: Vec<String>,
}

impl BlockDevice {
    /// Opens a block device read-only.
    pub fn open(path: &Path) -> Result<Self, DiskError> {
        let host = Host::open(path)?;
        if !host.is_block_device() {
            return Err(DiskError::NotADisk {
                path: path.to_owned(),
                reason: "it is not a block device",
            });
        }
        Ok(BlockDevice::from_host(host, Vec::new()))
    }

    /// The device `host`, with `notes` for [`Disk::notes`].
    pub(crate) fn from_host(host: Host, notes: Vec<String>) -> Self {
        BlockDevice { host, notes }
    }
}

impl Disk for BlockDevice {
    fn size(&self) -> u64 {
        self.host.len()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        check_bounds(offset, buf.len(), self.size())?;
        if buf.len() >= DIRECT_READ_MIN {
            return self.host.read_direct_at(offset, buf);
        }
        self.host.read_exact_at(offset, buf)
    }

    fn sequential(&self) -> bool {
        true
    }

    fn kind(&self) -> &'static str {
        "block device"
    }

    fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }
}
