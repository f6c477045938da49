//! [`Refusal`]: why bytes parsed from an image were refused, before the image's path is known.

use std::path::Path;

use crate::DiskError;

/// Why a structure parsed from bytes was refused, before the image's path is attached.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The structure is inconsistent or damaged.
    Corrupt(String),
    /// The structure is valid but uses a feature snapsift does not read.
    Unsupported(String),
}

impl Refusal {
    /// The refusal as the [`DiskError`] for the image at `path` in `format`.
    pub(crate) fn at(self, path: &Path, format: &'static str) -> DiskError {
        match self {
            Refusal::Corrupt(reason) => DiskError::Corrupt {
                path: path.to_owned(),
                format,
                reason,
            },
            Refusal::Unsupported(feature) => DiskError::Unsupported {
                path: path.to_owned(),
                format,
                feature,
            },
        }
    }
}
