//! [`BlockDevice`]: an attached disk or partition, read with `pread`.

use std::path::Path;

use crate::host::Host;
use crate::{Disk, DiskError, check_bounds};

/// A block device (`/dev/nvme1n1`, `/dev/vdb`, `/dev/loop3`, a partition), opened `O_RDONLY`.
///
/// The size comes from the kernel (`BLKGETSIZE64`). Reads are positional (`pread`) into
/// page-aligned buffers, so threads share the descriptor without seeking, and the kernel is told
/// the access is sequential so its readahead grows.
#[derive(Debug)]
pub struct BlockDevice {
    host: Host,
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
        Ok(BlockDevice::from_host(host))
    }

    pub(crate) fn from_host(host: Host) -> Self {
        BlockDevice { host }
    }
}

impl Disk for BlockDevice {
    fn size(&self) -> u64 {
        self.host.len()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        check_bounds(offset, buf.len(), self.size())?;
        self.host.read_exact_at(offset, buf)
    }

    fn kind(&self) -> &'static str {
        "block device"
    }
}
