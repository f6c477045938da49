//! snapsift's engine: the scan of one image, and everything that decides what a finding is.
//!
//! The `snapsift` binary keeps the command line, the output files, progress and the printers;
//! every decision about a finding is made here, once, in this order
//! ([`scan::scan_image`]):
//!
//! 1. **Layout.** The image's volumes (`snapsift-fs`) and the filesystem of each; the bytes
//!    of encrypted volumes are listed as unreadable, but LUKS volumes the key file opens,
//!    whose plaintext is scanned as an image of its own and joined in ([`luks`]).
//! 2. **File pass, then sweep.** The file pass (`snapsift-filepass`) reads every mapped file
//!    the way its filesystem gives it; the byte sweep (`snapsift-scan`) reads every byte of
//!    data. An occurrence both see is one finding, with the file pass's location (it names
//!    the archive member) and the sweep's disk offset.
//! 3. **Location** ([`place`]): each finding's volume, partition, file, state of its bytes
//!    and, inside a file, the [`Layer`]s (archive members, decodings) down to the secret.
//! 4. **Assessment and dedup** ([`report`]): each match is assessed by its rule's offline
//!    checks (a rejected one is dropped unless [`report::ReportOptions::include_invalid`]),
//!    and where several rules match the same bytes one finding is kept (a valid one, then
//!    the most confident, then the rule listed first).
//! 5. **Pairing** ([`report::pair`]): an ID and its secret half pair only inside one byte
//!    stream that belongs together (one file's contents, one archive member or decoded
//!    stream, one run of bytes no file boundary crosses), and only valid halves pair: the
//!    valid findings are the same with or without `include_invalid`.
//! 6. **Fingerprints and baseline** ([`report::fingerprint`]): a stable fingerprint of each
//!    secret at its place; findings a baseline lists are suppressed.
//! 7. **Shards** ([`shard`]): a shard's scan reports only the findings it owns, so that the
//!    shards of an image add up to one full scan.
//! 8. **Records and redaction** ([`record`], [`redact`]): each finding leaves the engine as a
//!    [`record::FindingRecord`], exactly the JSON Lines object the binary prints (enums by
//!    their documented names); with
//!    [`scan::ScanOptions::redact`] no record holds a secret in full, nor does a baseline
//!    entry ever.
//! 9. **Coverage** ([`coverage`]): what the scan read, what it could not read, and what the
//!    file pass could not expand, per image.
//!
//! Callers that read an image's files rather than sweep it (`snapsift audit`) map it the
//! same way with [`mapped::MappedDisk`].
//!
//! # Contract
//!
//! * Read-only: the engine reads the image it is given, through `snapsift-disk`, and nothing
//!   else; it writes nothing but, when asked, the temporary spill file of a compressed stream
//!   in the directory the caller names (`ScanOptions::spill_dir`).
//! * Nothing silent: what could not be read or mapped is told to the [`scan::Observer`] and
//!   listed in the coverage; an error is an [`EngineError`] (the only error type), never a
//!   panic. An error of the sweep still returns the findings made before it.
//! * Deterministic: the same image, rules and options give the same records in the same
//!   order (disk order), whatever the threads and chunk size.
//! * Strings from the image (names, contexts) are handed over as they are; the printers
//!   escape them, the observer's messages included.

// Nothing here needs `unsafe`: the reading and searching crates below do the low-level work.
#![forbid(unsafe_code)]

pub mod coverage;
mod error;
mod files;
pub mod luks;
pub mod mapped;
pub mod place;
pub mod record;
pub mod redact;
pub mod report;
pub mod scan;
pub mod shard;
pub mod shown;
pub mod spill;

pub use error::EngineError;
/// The kind of a [`Layer`]: `zip`, `tar`, `gzip`, `utf-16le`...
pub use snapsift_unpack::Kind as LayerKind;
/// The one type of a layer between a file and a secret (an archive member, a decompression,
/// a decoding), from the file pass to the JSON; its [`LayerKind`] says which.
pub use snapsift_unpack::Layer;
/// What a secret was decoded from (UTF-16LE, UTF-16BE), as a location says; not
/// `snapsift_match::Encoding`, which is how a match is written on the disk.
pub use snapsift_unpack::LeafEncoding;
