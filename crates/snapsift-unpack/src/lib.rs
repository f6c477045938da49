//! Expanding one file into the leaves a secret scanner can read: compressed streams, archives
//! and UTF-16 text, recursively.
//!
//! This crate is the core of snapsift's *file pass*, which reads what the raw byte sweep of a
//! disk cannot: a file's logical bytes when they are gzip, zstd, xz or bzip2 streams, zip (and
//! jar, war, ear, apk) or tar archives, or UTF-16 text. [`unpack`] takes one file's bytes with
//! random access, expands every layer it recognises, and hands each *leaf* (content that is not
//! itself a container) to a [`Visitor`] as a [`Read`] stream, with the chain of [`Layer`]s that
//! led to it. It knows nothing of disks, filesystems or rules.
//!
//! # Contract
//!
//! * **Content, not names.** Formats are recognised by their first bytes ([`sniff()`]), never by
//!   a file or member name.
//! * **Every byte reaches the visitor or a problem says why.** Leaves are visited in archive
//!   order. Whatever cannot be expanded (a limit, corrupt or truncated data, an unsupported
//!   or encrypted zip member) is reported through [`Visitor::problem`] with the chain it
//!   concerns, and the rest of the input is still visited where it can be. A container that
//!   cannot be opened at all (too deep, unreadable zip directory, too many entries, too big to
//!   hold in memory) is visited as a leaf with its bytes as they are, as the disk sweep would
//!   see them. A leaf cut short (corruption, truncation, a limit) is a [`Read`] that ends early:
//!   the visitor scans what was there. A problem is reported *after* the content it concerns
//!   has been visited.
//! * **Bounded work.** Decompressed output, at every layer, counts against the input's
//!   expansion budget ([`Limits::expansion_budget`]: proportional to the input's size, with a
//!   floor and a cap); depth, members per archive, memory held for nested zips and decoder
//!   windows have limits too. Reaching one is a problem ([`Problem::limit`] names the limit),
//!   never a panic or an error.
//! * **Streamed, not buffered.** Compressed streams, tar members and deflated zip members reach
//!   the visitor as they are decoded. The only content held in memory is a zip nested inside a
//!   layer that cannot seek (a compressed stream or a deflated member), which zip's directory at
//!   the end requires; all such zips together are bounded by [`Limits::max_buffered`]. The root
//!   and anything stored verbatim within it (tar members, stored zip members, nested to any
//!   depth) are read in place through the root's [`Seek`]. Other memory is small and fixed: a
//!   4 KiB look-ahead per layer, tar name records of at most 1 MiB, a zip directory of at most
//!   [`Limits::max_entries`] entries, and the decoders' windows (xz refused past
//!   [`XZ_MEMORY_LIMIT`], zstd past [`Limits::max_zstd_window`]).
//! * **Errors are the caller's.** [`UnpackError`] is returned only when reading the root fails
//!   or the visitor returns an error; corrupt input is never an error.
//! * **No global state.** Everything lives in the call; the types handed out are `Send`.

// Nothing here needs `unsafe`: no SIMD, no system calls beyond what std wraps.
#![forbid(unsafe_code)]
// Sizes and offsets here come from files we do not trust: no arithmetic may wrap or panic.
#![cfg_attr(
    not(test),
    warn(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)
)]

mod budget;
mod error;
mod fuse;
mod limits;
mod peek;
mod pool;
mod problem;
mod sniff;
mod source;
mod stream;
mod tar;
mod utf16;
mod visit;
mod walk;
mod zip;

use std::io::{Read, Seek};
use std::sync::Arc;

pub use error::UnpackError;
pub use limits::Limits;
pub use pool::BufferPool;
pub use problem::{LimitReached, Problem, XZ_MEMORY_LIMIT};
pub use sniff::{Kind, SNIFF_LEN, sniff};
pub use visit::{Layer, Leaf, LeafEncoding, Visitor};

use budget::Budget;
use fuse::Faults;
use source::{Root, Window};
use walk::{Body, Walker};

/// What [`unpack`] went through.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Leaves handed to [`Visitor::leaf`].
    pub leaves: u64,
    /// Bytes produced by decompression, at every layer (what [`Limits::expansion_budget`]
    /// bounds). Stored bytes and UTF-16 transcoding do not count.
    pub expanded: u64,
    /// Problems handed to [`Visitor::problem`].
    pub problems: u64,
}

/// Expands `root`, the `root_len` bytes of one file, and hands every leaf and every problem to
/// `visitor`.
///
/// If `root` is not a container nor UTF-16 text, the visitor gets it whole as one leaf with an
/// empty chain and origin 0. Corrupt, truncated or hostile content is reported to
/// [`Visitor::problem`], never returned as an error: this fails only when reading `root` fails
/// (with where) or when the visitor returns an error, which stops the walk at once.
///
/// `root_len` must be the length of `root`; bytes past it are never read.
pub fn unpack<R, V>(
    root: R,
    root_len: u64,
    limits: &Limits,
    visitor: &mut V,
) -> Result<Summary, UnpackError<V::Error>>
where
    R: Read + Seek,
    V: Visitor + ?Sized,
{
    let pool = Arc::new(BufferPool::for_limits(limits));
    unpack_with_pool(root, root_len, limits, &pool, visitor)
}

/// [`unpack`], holding nested zips in memory taken from `pool`, which calls running at once
/// (a file pass's threads) share: together they hold at most its capacity, besides each
/// call's own [`Limits::max_buffered`].
pub fn unpack_with_pool<R, V>(
    root: R,
    root_len: u64,
    limits: &Limits,
    pool: &Arc<BufferPool>,
    visitor: &mut V,
) -> Result<Summary, UnpackError<V::Error>>
where
    R: Read + Seek,
    V: Visitor + ?Sized,
{
    let root = Root::new(root, root_len);
    let budget = Budget::new(limits, root_len, Arc::clone(pool));
    let faults = Faults::default();
    let mut walker = Walker::new(&root, limits, &budget, &faults, visitor);
    walker.node(Body::Ranged {
        window: Window::whole(&root),
        crc32: None,
    })?;
    walker.check_root()?;
    Ok(walker.finish())
}
