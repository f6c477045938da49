//! The engine through its public API: images made by real tools (mkfs.ext4, debugfs, tar,
//! zstd) or laid out byte by byte, scanned with [`snapsift_engine::scan::scan_image`], and
//! what it decides about their findings checked against what was planted.

mod common;
mod dedup;
mod errors;
mod pairing;
mod redaction;
mod shards;
