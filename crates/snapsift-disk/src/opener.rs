//! [`Opener`]: opening an image and, recursively, the files it names (backing images, parents,
//! extents), within what the [`ReferencePolicy`] allows.

use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use crate::host::{Host, Pinned};
use crate::{Disk, DiskError, Image};

/// Backing chains deeper than this are refused. Real chains are a few images deep; a longer
/// one is more likely a mistake or an attack than a disk.
pub const MAX_BACKING_DEPTH: usize = 64;

/// Which files an image may name and have opened: its backing file (qcow2), its parent (VHD,
/// VHDX, VMDK delta disk), its extents (VMDK descriptor).
///
/// The names come from the image, so from whoever wrote it: a qcow2 whose backing file is
/// `/root/.aws/credentials` would otherwise make snapsift read, and report the secrets of,
/// the scanning machine's own files. By default ([`ReferencePolicy::image_directory`]) a named
/// file is opened only if it lies inside the directory tree of the image naming it (symlinks
/// of both resolved); [`ReferencePolicy::allowing`] adds directories, and
/// [`ReferencePolicy::nothing`] refuses every name, for images whose names mean nothing on
/// this machine (a block device's, a remote source's).
#[derive(Clone, Debug)]
pub struct ReferencePolicy {
    /// Canonical directories a named file may lie in besides the naming image's directory;
    /// `None`: no named file at all.
    allowed: Option<Vec<PathBuf>>,
}

impl Default for ReferencePolicy {
    fn default() -> Self {
        ReferencePolicy::image_directory()
    }
}

impl ReferencePolicy {
    /// Files inside the directory tree of the image that names them, and nowhere else.
    pub fn image_directory() -> Self {
        ReferencePolicy {
            allowed: Some(Vec::new()),
        }
    }

    /// Files inside the directory tree of the image that names them or of one of `dirs`
    /// (canonicalized here, once: each must be a directory that exists).
    pub fn allowing(dirs: &[PathBuf]) -> Result<Self, DiskError> {
        let mut allowed = Vec::with_capacity(dirs.len());
        for dir in dirs {
            let canonical = dir.canonicalize().map_err(|source| DiskError::Open {
                path: dir.clone(),
                source,
            })?;
            if !canonical.is_dir() {
                return Err(DiskError::NotADisk {
                    path: dir.clone(),
                    reason: "it is not a directory, which an allowed path must be",
                });
            }
            allowed.push(canonical);
        }
        Ok(ReferencePolicy {
            allowed: Some(allowed),
        })
    }

    /// No file at all: every name an image records is refused.
    pub fn nothing() -> Self {
        ReferencePolicy { allowed: None }
    }
}

/// Opens the files an image names: follows a chain of backing (parent) images, refusing
/// loops and chains deeper than [`MAX_BACKING_DEPTH`], and opens extents, each only where its
/// [`ReferencePolicy`] allows.
///
/// Formats with overlays (qcow2 backing files, VHD and VHDX differencing disks, VMDK delta
/// disks) call its `open_backing` with the name the overlay records, VMDK descriptors its
/// `open_reference` with an extent's; relative names are resolved from the naming
/// image's directory, as the hypervisors that wrote them do.
#[derive(Debug, Default)]
pub struct Opener {
    /// Canonical paths of the images opened so far along this chain, the top one first.
    chain: Vec<PathBuf>,
    /// Which named files may be opened.
    policy: ReferencePolicy,
    /// Every file opened so far, in the order opened.
    files: Vec<SourceFile>,
}

/// A file an image was read from: the image file itself, a backing file or parent, a VMDK
/// extent, or a candidate parent whose header was read to check its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// The path it was opened by.
    pub path: PathBuf,
    /// The device holding it (`st_dev`): with `ino`, which file it is, whatever its name.
    pub dev: u64,
    /// Its inode number (`st_ino`).
    pub ino: u64,
}

impl Opener {
    /// A fresh opener, for a top-level image whose names are opened as `policy` allows.
    pub fn new(policy: ReferencePolicy) -> Self {
        Opener {
            chain: Vec::new(),
            policy,
            files: Vec::new(),
        }
    }

    /// Opens `path` read-only as whatever image it holds (as [`crate::open_image_with`]
    /// does), recording in [`Opener::files`] every file it reads, also when the image is
    /// refused.
    pub fn open_image(&mut self, path: &Path) -> Result<Image, DiskError> {
        let host = Host::open(path)?;
        self.record(&host);
        self.enter(path)?;
        crate::formats::open_image(host, self)
    }

    /// The files opened so far (the image, its backing files, parents and extents, and
    /// candidate parents whose ids were read), each once, in the order opened.
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    /// Records that `host`'s file is read.
    fn record(&mut self, host: &Host) {
        let Ok(meta) = host.metadata() else { return };
        let (dev, ino) = (meta.dev(), meta.ino());
        if !self.files.iter().any(|f| f.dev == dev && f.ino == ino) {
            self.files.push(SourceFile {
                path: host.path_buf(),
                dev,
                ino,
            });
        }
    }

    /// Records that `path` is being opened as the next image of the chain.
    pub(crate) fn enter(&mut self, path: &Path) -> Result<(), DiskError> {
        let canonical = path.canonicalize().map_err(|source| DiskError::Open {
            path: path.to_owned(),
            source,
        })?;
        if self.chain.contains(&canonical) {
            return Err(DiskError::BackingChain {
                path: path.to_owned(),
                reason: "loops: the image is its own backing image".into(),
            });
        }
        if self.chain.len() >= MAX_BACKING_DEPTH {
            return Err(DiskError::BackingChain {
                path: path.to_owned(),
                reason: format!("is deeper than {MAX_BACKING_DEPTH} images"),
            });
        }
        self.chain.push(canonical);
        Ok(())
    }

    /// Opens the backing image `name`, recorded by the overlay at `overlay`.
    pub(crate) fn open_backing(
        &mut self,
        overlay: &Path,
        name: &Path,
    ) -> Result<Box<dyn Disk>, DiskError> {
        match self.open_reference(overlay, name) {
            Ok(host) => self.open_backing_host(overlay, host),
            Err(refused @ DiskError::ReferenceRefused { .. }) => Err(refused),
            Err(source) => Err(DiskError::Backing {
                overlay: overlay.to_owned(),
                backing: resolve(overlay, name),
                source: Box::new(source),
            }),
        }
    }

    /// Opens `host`, a backing image of `overlay` opened by [`Opener::open_reference`], as the
    /// next image of the chain.
    pub(crate) fn open_backing_host(
        &mut self,
        overlay: &Path,
        host: Host,
    ) -> Result<Box<dyn Disk>, DiskError> {
        let backing = host.path_buf();
        self.enter(&backing)
            .and_then(|()| crate::formats::open(host, self))
            .map_err(|source| match source {
                // A loop, an over-deep chain or a refused name is reported once, where found.
                found @ (DiskError::BackingChain { .. } | DiskError::ReferenceRefused { .. }) => {
                    found
                }
                source => DiskError::Backing {
                    overlay: overlay.to_owned(),
                    backing,
                    source: Box::new(source),
                },
            })
    }

    /// Opens the file `name` that the image at `image` names (a backing file, a parent, an
    /// extent) read-only, if the policy allows it: a [`DiskError::ReferenceRefused`] if it
    /// lies outside the allowed directories, a [`DiskError::NotADisk`] if it is a block
    /// device or anything but a regular file, refused before it is opened.
    ///
    /// The check applies to the file actually read, not to a path that may name another file
    /// a moment later: the file is pinned first (`O_PATH`, which neither blocks nor runs a
    /// device's driver), the path checked is the one the kernel gives the pinned descriptor
    /// (`/proc/self/fd/N`: every symlink resolved, `..` applied), and the file opened for
    /// reading is that descriptor's inode ([`Pinned::open`]). A symlink inside the image's
    /// directory that leads outside it is refused like the outside name itself. A hard link
    /// inside the directory to a file elsewhere counts as inside: making one takes write
    /// access to the directory, which an image's contents do not give.
    /// The file opened is recorded in [`Opener::files`].
    pub(crate) fn open_reference(&mut self, image: &Path, name: &Path) -> Result<Host, DiskError> {
        let resolved = resolve(image, name);
        let refused = |resolved: PathBuf, allow: Option<PathBuf>| DiskError::ReferenceRefused {
            image: image.to_owned(),
            reference: name.to_owned(),
            resolved,
            allow,
        };
        let Some(allowed) = &self.policy.allowed else {
            return Err(refused(resolved, None));
        };
        let pinned = Pinned::new(&resolved)?;
        let real = pinned.real_path()?;
        let image_dir = directory_of(image)
            .canonicalize()
            .map_err(|source| DiskError::Open {
                path: image.to_owned(),
                source,
            })?;
        let inside = |root: &PathBuf| real.starts_with(root);
        if !inside(&image_dir) && !allowed.iter().any(inside) {
            let allow = real.parent().map(Path::to_owned);
            return Err(refused(real, allow));
        }
        if pinned.is_block_device() {
            return Err(DiskError::NotADisk {
                path: resolved,
                reason: "it is a block device, and an image may only name files (a hostile \
                         image could otherwise make snapsift read this machine's own disks)",
            });
        }
        let host = pinned.open()?;
        self.record(&host);
        Ok(host)
    }
}

/// The directory of the image at `image`, `.` for a bare file name.
fn directory_of(image: &Path) -> &Path {
    match image.parent() {
        Some(dir) if dir.components().next().is_some() => dir,
        _ => Path::new(Component::CurDir.as_os_str()),
    }
}

/// Where the name `name`, recorded by the image at `image`, leads before symlinks: relative
/// names from the image's directory, absolute ones as they are.
pub(crate) fn resolve(image: &Path, name: &Path) -> PathBuf {
    match image.parent() {
        Some(dir) if name.is_relative() => dir.join(name),
        _ => name.to_owned(),
    }
}
