//! Finding the parent of a differencing disk (VHD, VHDX) from the names and ids it records.

use std::path::{Path, PathBuf};

use super::refusal::Refusal;
use crate::host::Host;
use crate::opener::resolve;
use crate::{Disk, DiskError, Opener};

/// A Windows path as a path here, or `None` for one on a drive letter or a share, which
/// cannot name a file on this machine (its file name still can: see [`windows_file_name`]).
pub(crate) fn windows_path(text: &str) -> Option<PathBuf> {
    let text = text.trim_end_matches('\0');
    let text = text.strip_prefix(r"\\?\").unwrap_or(text);
    let has_drive = text.as_bytes().get(1) == Some(&b':');
    if text.is_empty() || has_drive || text.starts_with(r"\\") {
        return None;
    }
    Some(PathBuf::from(text.replace('\\', "/")))
}

/// The last component of a Windows path: where a parent moved along with its child is found.
pub(crate) fn windows_file_name(text: &str) -> Option<PathBuf> {
    let name = text.trim_end_matches('\0').rsplit(['\\', '/']).next()?;
    (!name.is_empty() && name != "." && name != "..").then(|| PathBuf::from(name))
}

/// Opens the parent of the differencing disk at `overlay`: the first of `candidates` (names as
/// recorded, relative to the overlay's directory or absolute) that exists, that `opener`'s
/// policy allows, and that is the parent the disk was made from, as far as `id_of` can tell:
/// the id it reads from a candidate must be one of `expected` (no expected id, or a candidate
/// `id_of` cannot read, is taken on trust).
///
/// A parent that exists but has another id is refused, as a [`DiskError::Backing`] naming it:
/// reading a child over a parent it was not made from gives a disk that never existed. A
/// candidate the policy refuses is passed over for the next (a stale absolute locator may
/// name another machine's path, the parent having moved beside its child), and reported as
/// the [`DiskError::ReferenceRefused`] if no candidate is opened. If no candidate exists,
/// opening the first reports it as the missing parent.
pub(crate) fn open_parent(
    overlay: &Path,
    candidates: &[PathBuf],
    expected: &[[u8; 16]],
    id_of: fn(&Host) -> Option<[u8; 16]>,
    opener: &mut Opener,
    format: &'static str,
) -> Result<Box<dyn Disk>, DiskError> {
    let mut mismatch = None;
    let mut refused = None;
    for name in candidates {
        if !resolve(overlay, name).exists() {
            continue;
        }
        let host = match opener.open_reference(overlay, name) {
            Ok(host) => host,
            Err(error @ DiskError::ReferenceRefused { .. }) => {
                refused.get_or_insert(error);
                continue;
            }
            // Not a file that can be read: the parent that cannot be opened.
            Err(source) => {
                return Err(DiskError::Backing {
                    overlay: overlay.to_owned(),
                    backing: resolve(overlay, name),
                    source: Box::new(source),
                });
            }
        };
        match (expected.first(), id_of(&host)) {
            (Some(&wanted), Some(found)) if !expected.contains(&found) => {
                mismatch.get_or_insert((host.path_buf(), found, wanted));
            }
            _ => return opener.open_backing_host(overlay, host),
        }
    }
    if let Some(refused) = refused {
        return Err(refused);
    }
    if let Some((backing, found, expected)) = mismatch {
        return Err(DiskError::Backing {
            overlay: overlay.to_owned(),
            source: Box::new(DiskError::Corrupt {
                path: backing.clone(),
                format,
                reason: format!(
                    "its unique id {} is not the id {} the differencing disk {} was made from: \
                     the parent was replaced or changed since",
                    hex(&found),
                    hex(&expected),
                    overlay.display()
                ),
            }),
            backing,
        });
    }
    match candidates.first() {
        Some(name) => opener.open_backing(overlay, name),
        None => Err(
            Refusal::Corrupt("the differencing disk does not name its parent".into())
                .at(overlay, format),
        ),
    }
}

/// Bytes as lowercase hex, for ids in messages.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
