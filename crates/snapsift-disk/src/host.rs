//! [`Host`]: the bytes an image lives in, a whole file or device or a slice of one.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::DiskError;

/// `BLKGETSIZE64` from `<linux/fs.h>`: `_IOR(0x12, 114, size_t)`, in the generic ioctl encoding
/// used by x86, x86-64, ARM and RISC-V (the `libc` crate does not export it).
///
/// The request is 32 bits; glibc's `ioctl` takes it as an `unsigned long`, musl's as an `int`
/// (`libc::Ioctl`), where the top bit set by `_IOR` makes it negative, as C's conversion does.
// The size field is size_of::<usize>() (4 or 8) and the request 32 bits by construction; on
// musl the cast to `int` wraps into the negative value C's conversion gives.
#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
const BLKGETSIZE64: libc::Ioctl = {
    const IOC_READ: u32 = 2;
    let size = std::mem::size_of::<usize>() as u32;
    let request: u32 = (IOC_READ << 30) | (size << 16) | (0x12 << 8) | 114;
    request as libc::Ioctl
};

/// The file, block device, or part of a file (a disk inside an OVA archive) that holds an image,
/// opened read-only.
///
/// Every reader in this crate reads through a `Host`: reads are positional (`pread`), so threads
/// share one descriptor without seeking, and checked against the host's length, so a read past
/// the end is a [`DiskError::Truncated`] naming the file, never a short read. Cloning shares
/// the descriptor.
#[derive(Clone, Debug)]
pub(crate) struct Host {
    file: Arc<File>,
    path: Arc<Path>,
    /// Where the host's bytes start in the file.
    base: u64,
    len: u64,
    block_device: bool,
    /// A block device opened a second time with `O_DIRECT`, for large aligned reads.
    direct: Option<Arc<Direct>>,
}

/// A block device opened with `O_DIRECT`, and the alignment its reads need.
#[derive(Debug)]
struct Direct {
    file: File,
    /// The device's logical block size: offsets and lengths of direct reads are multiples.
    align: u64,
}

/// Direct reads go into page-aligned buffers (more than most devices ask, never less).
const PAGE: usize = 4096;

/// A file named by a path, pinned but not yet opened for reading, and its metadata.
///
/// Opening a FIFO for reading blocks until a writer comes, and opening a device runs its
/// driver's `open` (a tape rewinds, a watchdog starts): so a path is first pinned with
/// `O_PATH`, which does neither, and what it names is checked on the pinned inode before it
/// is opened for reading ([`Pinned::open`]). That open goes through `/proc/self/fd/N`, the
/// pinned descriptor's magic link, so the file read is the inode checked, whatever the path
/// names by then; and it is `O_NONBLOCK` all the same, its inode compared again before any
/// read.
#[derive(Debug)]
pub(crate) struct Pinned {
    /// The `O_PATH` descriptor.
    handle: File,
    /// Its `fstat`.
    meta: Metadata,
    /// The path as given, for messages.
    path: PathBuf,
}

impl Pinned {
    /// Pins the file `path` names (following symlinks), without opening it for reading.
    pub(crate) fn new(path: &Path) -> Result<Pinned, DiskError> {
        let open_error = |source| DiskError::Open {
            path: path.to_owned(),
            source,
        };
        let handle = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
            .open(path)
            .map_err(open_error)?;
        let meta = handle.metadata().map_err(open_error)?;
        Ok(Pinned {
            handle,
            meta,
            path: path.to_owned(),
        })
    }

    /// Where the pinned file is, every symlink resolved: the path the kernel gives its
    /// descriptor. A check of this path is a check of the file [`Pinned::open`] reads.
    pub(crate) fn real_path(&self) -> Result<PathBuf, DiskError> {
        std::fs::read_link(self.fd_link()).map_err(|error| DiskError::Open {
            path: self.path.clone(),
            source: io::Error::new(
                error.kind(),
                format!("cannot tell where it leads (reading its /proc/self/fd link: {error})"),
            ),
        })
    }

    /// Whether the pinned file is a block device.
    pub(crate) fn is_block_device(&self) -> bool {
        self.meta.file_type().is_block_device()
    }

    /// Opens the pinned file read-only: a regular file or a block device, sized by its
    /// metadata or by the kernel's `BLKGETSIZE64`. Anything else (a directory, a FIFO, a
    /// socket, a character device) is a [`DiskError::NotADisk`], refused before it is opened.
    pub(crate) fn open(self) -> Result<Host, DiskError> {
        let path = self.path.as_path();
        let file_type = self.meta.file_type();
        let not_a_disk = |reason: &'static str| DiskError::NotADisk {
            path: path.to_owned(),
            reason,
        };
        if file_type.is_dir() {
            return Err(not_a_disk("it is a directory"));
        } else if file_type.is_char_device() {
            return Err(not_a_disk("it is a character device, not a block device"));
        } else if file_type.is_fifo() {
            return Err(not_a_disk("it is a FIFO"));
        } else if file_type.is_socket() {
            return Err(not_a_disk("it is a socket"));
        } else if !file_type.is_file() && !file_type.is_block_device() {
            return Err(not_a_disk(
                "it is neither a regular file nor a block device",
            ));
        }
        let open_error = |source| DiskError::Open {
            path: path.to_owned(),
            source,
        };
        let file = self.reopen(0).map_err(open_error)?;
        let meta = file.metadata().map_err(open_error)?;
        if (meta.dev(), meta.ino()) != (self.meta.dev(), self.meta.ino()) {
            return Err(open_error(io::Error::other(
                "the path named another file when it was opened than when it was checked",
            )));
        }
        let block_device = file_type.is_block_device();
        let len = if block_device {
            device_size(&file).map_err(|source| DiskError::Size {
                path: path.to_owned(),
                source,
            })?
        } else {
            meta.len()
        };
        if len == 0 {
            return Err(not_a_disk("it is empty (0 bytes)"));
        }
        // Only a hint, that the scan reads front to back, so the kernel's readahead grows.
        // SAFETY: posix_fadvise only reads its arguments; the descriptor is open.
        unsafe {
            libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_SEQUENTIAL);
        }
        let direct = if block_device {
            Direct::open(&self, &file).map(Arc::new)
        } else {
            None
        };
        Ok(Host {
            file: Arc::new(file),
            path: path.into(),
            base: 0,
            len,
            block_device,
            direct,
        })
    }

    /// `/proc/self/fd/N` of the pinned descriptor.
    fn fd_link(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.handle.as_raw_fd()))
    }

    /// Opens the pinned file for reading, with `flags` besides `O_RDONLY`, through its
    /// `/proc/self/fd` link, then clears `O_NONBLOCK`, which the open had in case the file is
    /// not what it was when checked. Where `/proc` is not mounted, the path is opened again
    /// (still `O_NONBLOCK`; the caller compares the inodes before reading).
    fn reopen(&self, flags: libc::c_int) -> io::Result<File> {
        let open = |path: &Path| {
            OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC | flags)
                .open(path)
        };
        let file = match open(&self.fd_link()) {
            Err(error)
                if error.kind() == io::ErrorKind::NotFound && !Path::new("/proc/self").exists() =>
            {
                open(&self.path)?
            }
            other => other?,
        };
        clear_nonblock(&file)?;
        Ok(file)
    }
}

impl Host {
    /// Opens `path` read-only: a regular file or a block device (see [`Pinned::open`]).
    pub(crate) fn open(path: &Path) -> Result<Host, DiskError> {
        Pinned::new(path)?.open()
    }

    /// A host over `file`, opened by the caller and `len` bytes long, named `path` in
    /// messages (a spill file has no name of its own: it is named after its image).
    pub(crate) fn from_file(file: File, path: &Path, len: u64) -> Host {
        Host {
            file: Arc::new(file),
            path: path.into(),
            base: 0,
            len,
            block_device: false,
            direct: None,
        }
    }

    /// Bytes `offset..offset + len` of this host, as a host of their own.
    pub(crate) fn slice(&self, offset: u64, len: u64) -> Result<Host, DiskError> {
        let truncated = || self.truncated(offset, usize::try_from(len).unwrap_or(usize::MAX));
        let end = offset.checked_add(len).ok_or_else(truncated)?;
        if end > self.len {
            return Err(truncated());
        }
        Ok(Host {
            base: self.base.checked_add(offset).ok_or_else(truncated)?,
            len,
            ..self.clone()
        })
    }

    /// The metadata of the file or device (not of the slice), from its open descriptor.
    pub(crate) fn metadata(&self) -> io::Result<std::fs::Metadata> {
        self.file.metadata()
    }

    /// The host's length in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Whether the host is a block device rather than a regular file.
    pub(crate) fn is_block_device(&self) -> bool {
        self.block_device
    }

    /// The file's path, for messages and for resolving relative names of backing files.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The path as an owned value, for errors.
    pub(crate) fn path_buf(&self) -> PathBuf {
        self.path.to_path_buf()
    }

    /// Reads exactly `buf.len()` bytes at `offset`.
    pub(crate) fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        let at = self.file_offset(offset, buf.len())?;
        self.file
            .read_exact_at(buf, at)
            .map_err(|source| DiskError::Read {
                offset: at,
                len: buf.len(),
                source,
            })
    }

    /// Reads exactly `buf.len()` bytes at `offset` with direct I/O (`O_DIRECT`: from the
    /// device into `buf`, past the page cache) where the host is a block device that allows
    /// it and the read is aligned to its logical block size (and `buf` to a page); otherwise,
    /// or if the device refuses the read as unaligned, as [`Host::read_exact_at`] does.
    pub(crate) fn read_direct_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        let at = self.file_offset(offset, buf.len())?;
        if let Some(direct) = self.direct.as_deref()
            && direct.allows(at, buf)
        {
            match direct.file.read_exact_at(buf, at) {
                Ok(()) => return Ok(()),
                // Alignment rules stricter than the logical block size: read through the cache.
                Err(err) if err.raw_os_error() == Some(libc::EINVAL) => {}
                Err(source) => {
                    return Err(DiskError::Read {
                        offset: at,
                        len: buf.len(),
                        source,
                    });
                }
            }
        }
        self.read_exact_at(offset, buf)
    }

    /// Reads `len` bytes at `offset` into a new vector. `len` must already be checked against
    /// the format's limits when it comes from the image.
    pub(crate) fn read_vec(&self, offset: u64, len: usize) -> Result<Vec<u8>, DiskError> {
        let mut buf = vec![0; len];
        self.read_exact_at(offset, &mut buf)?;
        Ok(buf)
    }

    /// The ranges of the host that hold data, by `SEEK_DATA`/`SEEK_HOLE`, with holes shorter
    /// than `min_hole` merged into their neighbours; the whole host where the filesystem cannot
    /// tell.
    pub(crate) fn data_ranges(&self, min_hole: u64) -> Result<Vec<Range<u64>>, DiskError> {
        let whole = vec![0..self.len];
        if self.block_device {
            return Ok(whole);
        }
        let end = self.base.saturating_add(self.len);
        match sparse_data_ranges(&self.file, self.base..end, min_hole) {
            Ok(ranges) => Ok(ranges
                .into_iter()
                .map(|r| r.start.saturating_sub(self.base)..r.end.saturating_sub(self.base))
                .collect()),
            // Filesystems without SEEK_DATA support answer EINVAL: read everything.
            Err(err) if err.raw_os_error() == Some(libc::EINVAL) => Ok(whole),
            Err(source) => Err(DiskError::Read {
                offset: self.base,
                len: 0,
                source,
            }),
        }
    }

    /// The file offset of `len` bytes at host offset `offset`, if they lie within the host.
    fn file_offset(&self, offset: u64, len: usize) -> Result<u64, DiskError> {
        let truncated = || self.truncated(offset, len);
        let len64 = u64::try_from(len).map_err(|_| truncated())?;
        let end = offset.checked_add(len64).ok_or_else(truncated)?;
        if end > self.len {
            return Err(truncated());
        }
        self.base.checked_add(offset).ok_or_else(truncated)
    }

    fn truncated(&self, offset: u64, len: usize) -> DiskError {
        DiskError::Truncated {
            path: self.path_buf(),
            offset,
            len,
            size: self.len,
        }
    }
}

impl Direct {
    /// Opens the block device `file` (opened from `pinned`) a second time, read-only, with
    /// `O_DIRECT`; `None` if the device refuses it.
    fn open(pinned: &Pinned, file: &File) -> Option<Direct> {
        let direct = pinned.reopen(libc::O_DIRECT).ok()?;
        if direct.metadata().ok()?.rdev() != file.metadata().ok()?.rdev() {
            return None;
        }
        let mut block: libc::c_int = 0;
        // SAFETY: BLKSSZGET writes one int through the pointer, which points at `block`.
        let ret = unsafe {
            libc::ioctl(
                direct.as_raw_fd(),
                libc::BLKSSZGET,
                &mut block as *mut libc::c_int,
            )
        };
        let align = u64::try_from(block).ok().filter(|&b| ret == 0 && b > 0)?;
        Some(Direct {
            file: direct,
            align,
        })
    }

    /// Whether a read of `buf.len()` bytes at `at` into `buf` meets direct I/O's alignment.
    fn allows(&self, at: u64, buf: &[u8]) -> bool {
        let len = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        at.is_multiple_of(self.align)
            && len.is_multiple_of(self.align)
            && (buf.as_ptr() as usize).is_multiple_of(PAGE)
    }
}

/// Clears `O_NONBLOCK` from `file`'s status flags: reads of a file or a device then wait for
/// their data, as every reader here expects.
fn clear_nonblock(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: F_GETFL and F_SETFL only read and set the open file's status flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The size in bytes of the block device behind `file`, as the kernel reports it.
fn device_size(file: &File) -> io::Result<u64> {
    let mut size: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 through the pointer, which points at `size`.
    let ret = unsafe { libc::ioctl(file.as_raw_fd(), BLKGETSIZE64, &mut size as *mut u64) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(size)
}

/// The data ranges of a possibly sparse file within `range` (file offsets), with holes shorter
/// than `min_hole` merged into their neighbours.
fn sparse_data_ranges(
    file: &File,
    range: Range<u64>,
    min_hole: u64,
) -> io::Result<Vec<Range<u64>>> {
    let mut ranges: Vec<Range<u64>> = Vec::new();
    let mut pos = range.start;
    while pos < range.end {
        let Some(data_start) = seek(file, pos, libc::SEEK_DATA)? else {
            break; // Only a hole remains.
        };
        if data_start >= range.end {
            break;
        }
        let data_end = seek(file, data_start, libc::SEEK_HOLE)?
            .unwrap_or(range.end)
            .min(range.end);
        if data_end <= data_start {
            break;
        }
        match ranges.last_mut() {
            Some(last) if data_start.saturating_sub(last.end) < min_hole => last.end = data_end,
            _ => ranges.push(data_start..data_end),
        }
        pos = data_end;
    }
    Ok(ranges)
}

/// `lseek(fd, pos, whence)`, with `ENXIO` (no data or hole past `pos`) as `None`, and an
/// offset past `i64::MAX` as `None` too: the end of the file.
///
/// Seeking moves the shared file offset, which no reader here uses: all reads are positional.
fn seek(file: &File, pos: u64, whence: libc::c_int) -> io::Result<Option<u64>> {
    let pos = libc::off_t::try_from(pos).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: lseek only reads its arguments; the descriptor is open for the call's duration.
    let ret = unsafe { libc::lseek(file.as_raw_fd(), pos, whence) };
    if ret == -1 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ENXIO) {
            return Ok(None);
        }
        return Err(err);
    }
    // Any other negative value is an offset that wrapped, not an error (errno is left as it
    // was, and trusting it once made a stale EINVAL read 2^63 bytes of holes): tmpfs answers
    // SEEK_HOLE in the last page of a file of 2^63 - 1 bytes with that page's end, 2^63.
    // Nothing lies past the end of the file.
    Ok(u64::try_from(ret).ok())
}
