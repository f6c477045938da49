//! The integration tests of snapsift-filepass, one test binary: the public API ([`run`],
//! [`run_files`]) on small real images (ext4 made by `mkfs.ext4 -d` and `debugfs`, NTFS made
//! by `mkntfs` and `ntfs-3g`), each finding checked against an oracle outside the code under
//! test (the host's copy of the file, `debugfs`, a plain byte search of the image).
//!
//! [`run`]: snapsift_filepass::run
//! [`run_files`]: snapsift_filepass::run_files

mod common;
mod ext4;
mod ntfs;
mod problems;
