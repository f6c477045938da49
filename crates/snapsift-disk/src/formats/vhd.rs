//! Placeholder: the vhd reader is being written.

use crate::host::Host;
use crate::{Disk, DiskError, Opener};

/// Opens `host` as a vhd image.
pub(crate) fn open(host: Host, _opener: &mut Opener) -> Result<Box<dyn Disk>, DiskError> {
    Err(DiskError::Unsupported {
        path: host.path_buf(),
        format: "vhd",
        feature: "this image format is not supported yet".into(),
    })
}
