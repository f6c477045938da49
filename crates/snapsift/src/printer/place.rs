//! Where a finding is, beyond its disk offset: the image and the volume.

use snapsift_fs::{Scheme, Volume, VolumeMap};

/// The image being scanned and what is known of its layout.
#[derive(Clone, Copy, Debug)]
pub struct Place<'a> {
    /// The image's path, as given.
    pub image: &'a str,
    /// Its volumes; `None` for a stream, whose layout is not read.
    pub volumes: Option<&'a VolumeMap>,
}

/// Where one offset of the image lies.
#[derive(Clone, Copy, Debug)]
pub enum Located<'a> {
    /// In this volume (a partition, or the whole disk).
    Volume(&'a Volume),
    /// On a partitioned disk, outside every partition.
    Unpartitioned,
    /// The layout is not known.
    Unknown,
}

impl<'a> Place<'a> {
    /// Where `offset` lies.
    pub fn locate(&self, offset: u64) -> Located<'a> {
        match self.volumes {
            None => Located::Unknown,
            Some(map) => match map.volume_at(offset) {
                Some(volume) => Located::Volume(volume),
                None if matches!(map.scheme, Scheme::Gpt | Scheme::Mbr) => Located::Unpartitioned,
                None => Located::Unknown,
            },
        }
    }
}
