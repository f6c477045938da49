//! `snapsift audit`: the cleanup checklist of an image that is about to leave, checked on
//! the image itself.
//!
//! Cloud providers' guidance for sharing or exporting an image is a checklist: no password
//! hashes, no `authorized_keys`, no host keys, no histories, empty temporary directories and
//! logs, no machine identity, no recoverable deleted files, no hard-coded credentials. This
//! crate checks it on the files of an image as `snapsift-engine` maps them
//! ([`snapsift_engine::mapped::MappedDisk`]): one [`Item`] per check, with a [`Status`]
//! (`pass`, `warn`, `fail`), the evidence and a one-line remediation.
//!
//! * [`check`]: the checks are data ([`CheckSet`], built in from `checks.toml`, extended by
//!   a team's file of the same form): the paths a check reads ([`glob`]), how it reads them
//!   ([`Kind`]) and the status a finding earns.
//! * [`run::audit`]: runs them over an image's filesystems ([`tree::FileTree`]); every read
//!   is bounded and a cut is said so in the evidence.
//! * [`accounts`], [`ssh`]: the parsers of `passwd`, `shadow`, `authorized_keys` and
//!   `sshd_config` (untrusted bytes: no panics, bounded).
//! * [`hive`]: a reader of Windows registry hives (`SAM`, `NTUSER.DAT`), and [`windows`]:
//!   what the Windows checks read in them and in Sysprep's `State.ini`, unattend answer
//!   files and the Recycle Bin's `$I` files (untrusted bytes: every offset checked).
//! * [`secrets::fill`]: the secret scan's findings under "hard-coded credentials".
//!
//! Paths are matched case-insensitively on filesystems whose names are (NTFS, FAT, exFAT),
//! where `~/` also means every Windows profile (`/Users/NAME`). The report never holds a
//! password hash, and a secret's value only when asked for ([`Options`]).

#![forbid(unsafe_code)]
// Sizes and counts come from images we do not trust: no arithmetic may wrap or panic.
#![cfg_attr(not(test), warn(clippy::arithmetic_side_effects))]

pub mod accounts;
pub mod check;
mod error;
pub mod glob;
pub mod hive;
pub mod mounts;
pub mod report;
pub mod run;
pub mod secrets;
pub mod ssh;
pub mod tree;
pub mod windows;

pub use check::{Check, CheckSet, Kind, Status};
pub use error::AuditError;
pub use report::{Evidence, ImageAudit, Item};
pub use run::{Options, audit};
