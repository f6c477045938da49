//! The integration tests of the snapsift command, one test binary: each module is one subject,
//! run against the built `snapsift` binary on images made by the real tools.

mod audit;
mod audit_reports;
mod audit_windows;
mod block_device;
mod boundaries;
mod bounded_memory;
mod btrfs;
mod cli;
mod common;
mod damaged_images;
mod fat;
mod file_pass;
mod fleet_docs;
mod formats;
mod hostile_names;
mod hostile_references;
mod inputs;
mod limits;
mod lvm;
mod manifest;
mod many_files;
mod ntfs;
mod output_file;
mod output_formats;
mod pairing;
mod partial_scan;
mod real_images;
mod recovered_volumes;
mod redact;
mod report;
mod sample_disk;
mod shards;
mod validity;
mod volume_kinds;
mod xfs;
