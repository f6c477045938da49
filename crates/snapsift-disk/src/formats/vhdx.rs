//! Placeholder: the vhdx reader is being written.

use crate::host::Host;
use crate::{Disk, DiskError, Opener};

/// Opens `host` as a vhdx image.
pub(crate) fn open(host: Host, _opener: &mut Opener) -> Result<Box<dyn Disk>, DiskError> {
    Err(DiskError::Unsupported {
        path: host.path_buf(),
        format: "vhdx",
        feature: "this image format is not supported yet".into(),
    })
}
