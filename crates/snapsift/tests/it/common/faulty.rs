//! A file with bad sectors: a FUSE filesystem (`fuser`, mounted by `fusermount3`) serving one
//! read-only file, the bytes of a real file, whose reads fail with EIO where they touch a
//! chosen byte range, as reads of a disk with unreadable sectors do. No device-mapper needed.
//! Or a slow file: every read waits a while, so that a scan can be interrupted mid-way.

use std::ffi::OsStr;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use fuser::{
    BackgroundSession, Config, Errno, FileAttr, FileHandle, FileType, Filesystem, INodeNo,
    LockOwner, MountOption, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyEntry, Request,
};

/// The served file's name in the mount.
const NAME: &str = "disk.img";
/// Its inode number.
const FILE: INodeNo = INodeNo(2);

/// A mounted faulty file; unmounted when dropped.
pub struct FaultyFile {
    /// The path of the served file.
    pub path: PathBuf,
    session: Option<BackgroundSession>,
}

impl FaultyFile {
    /// Serves the bytes of `source` at `dir/mnt/disk.img`, failing every read that touches
    /// `bad`.
    pub fn mount(source: &Path, bad: Range<u64>, dir: &Path) -> FaultyFile {
        Self::serve(source, bad, Duration::ZERO, dir)
    }

    /// Serves the bytes of `source` at `dir/mnt/disk.img`, each read answered after `delay`.
    pub fn mount_slow(source: &Path, delay: Duration, dir: &Path) -> FaultyFile {
        Self::serve(source, 0..0, delay, dir)
    }

    fn serve(source: &Path, bad: Range<u64>, delay: Duration, dir: &Path) -> FaultyFile {
        let mountpoint = dir.join("mnt");
        std::fs::create_dir(&mountpoint).unwrap();
        let file = std::fs::File::open(source).unwrap();
        let size = file.metadata().unwrap().len();
        let mut config = Config::default();
        config.mount_options.extend([
            MountOption::RO,
            MountOption::FSName("snapsift-faulty".into()),
        ]);
        let fs = Faulty {
            file,
            size,
            bad,
            delay,
        };
        let session = fuser::spawn_mount(fs, &mountpoint, &config).expect("FUSE mount");
        FaultyFile {
            path: mountpoint.join(NAME),
            session: Some(session),
        }
    }
}

impl Drop for FaultyFile {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            let _ = session.umount_and_join();
        }
    }
}

struct Faulty {
    file: std::fs::File,
    size: u64,
    bad: Range<u64>,
    delay: Duration,
}

const TTL: Duration = Duration::from_secs(60);

fn attr(ino: INodeNo, kind: FileType, size: u64) -> FileAttr {
    FileAttr {
        ino,
        size,
        blocks: size.div_ceil(512),
        atime: UNIX_EPOCH,
        mtime: UNIX_EPOCH,
        ctime: UNIX_EPOCH,
        crtime: UNIX_EPOCH,
        kind,
        perm: if kind == FileType::Directory {
            0o555
        } else {
            0o444
        },
        nlink: if kind == FileType::Directory { 2 } else { 1 },
        uid: 0,
        gid: 0,
        rdev: 0,
        flags: 0,
        blksize: 4096,
    }
}

impl Filesystem for Faulty {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        if parent == INodeNo::ROOT && name == NAME {
            reply.entry(
                &TTL,
                &attr(FILE, FileType::RegularFile, self.size),
                fuser::Generation(0),
            );
        } else {
            reply.error(Errno::ENOENT);
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match ino {
            INodeNo::ROOT => reply.attr(&TTL, &attr(ino, FileType::Directory, 0)),
            FILE => reply.attr(&TTL, &attr(ino, FileType::RegularFile, self.size)),
            _ => reply.error(Errno::ENOENT),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        if ino != FILE {
            reply.error(Errno::ENOENT);
            return;
        }
        std::thread::sleep(self.delay);
        let end = offset.saturating_add(u64::from(size)).min(self.size);
        if offset < self.bad.end && self.bad.start < end {
            reply.error(Errno::EIO);
            return;
        }
        let mut buf = vec![0; end.saturating_sub(offset) as usize];
        match self.file.read_exact_at(&mut buf, offset) {
            Ok(()) => reply.data(&buf),
            Err(_) => reply.error(Errno::EIO),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        if ino != INodeNo::ROOT {
            reply.error(Errno::ENOENT);
            return;
        }
        let entries = [
            (INodeNo::ROOT, FileType::Directory, "."),
            (INodeNo::ROOT, FileType::Directory, ".."),
            (FILE, FileType::RegularFile, NAME),
        ];
        for (i, (ino, kind, name)) in entries.into_iter().enumerate().skip(offset as usize) {
            if reply.add(ino, (i + 1) as u64, kind, name) {
                break;
            }
        }
        reply.ok();
    }
}
