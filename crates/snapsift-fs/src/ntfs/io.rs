//! Reading the volume: bounded byte reads for the walk, and the `Read + Seek` view the `ntfs`
//! crate reads through.

use std::io::{self, Read, Seek, SeekFrom};

use snapsift_disk::Disk;

use crate::FsError;
use crate::content::seek_target;

/// One volume of a disk.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Volume<'d> {
    /// The disk.
    pub(crate) disk: &'d dyn Disk,
    /// The volume's first byte on the disk.
    pub(crate) start: u64,
    /// Its length (clipped to the disk).
    pub(crate) len: u64,
}

impl<'d> Volume<'d> {
    /// Reads `buf.len()` bytes at volume offset `offset`; `false` (and nothing read) if they
    /// are not all inside the volume.
    pub(crate) fn read(&self, offset: u64, buf: &mut [u8]) -> Result<bool, FsError> {
        let end = offset.checked_add(buf.len() as u64);
        match (end, self.start.checked_add(offset)) {
            (Some(end), Some(at)) if end <= self.len => {
                self.disk.read_exact_at(at, buf)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// A `Read + Seek` view of the volume, positioned at its start.
    pub(crate) fn reader(&self) -> VolumeReader<'d> {
        VolumeReader {
            volume: *self,
            position: 0,
        }
    }
}

/// The volume as a seekable stream, for the `ntfs` crate: reads stop at the volume's end.
#[derive(Debug)]
pub(crate) struct VolumeReader<'d> {
    volume: Volume<'d>,
    position: u64,
}

impl Read for VolumeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.volume.len.saturating_sub(self.position);
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        if n == 0 {
            return Ok(0);
        }
        let at = self
            .volume
            .start
            .checked_add(self.position)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "offset overflows"))?;
        self.volume
            .disk
            .read_exact_at(at, &mut buf[..n])
            .map_err(io::Error::other)?;
        self.position = self.position.saturating_add(n as u64);
        Ok(n)
    }
}

impl Seek for VolumeReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.position = seek_target(to, self.position, self.volume.len)?;
        Ok(self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapsift_disk::MemoryDisk;

    #[test]
    fn reads_stop_at_the_volume_end() {
        let disk = MemoryDisk::new((0..100u8).collect());
        let volume = Volume {
            disk: &disk,
            start: 10,
            len: 20,
        };
        let mut buf = [0u8; 4];
        assert!(volume.read(16, &mut buf).unwrap());
        assert_eq!(buf, [26, 27, 28, 29]);
        assert!(!volume.read(17, &mut buf).unwrap());
        assert!(!volume.read(u64::MAX, &mut buf).unwrap());
        let mut reader = volume.reader();
        assert_eq!(reader.seek(SeekFrom::End(-2)).unwrap(), 18);
        let mut all = Vec::new();
        reader.read_to_end(&mut all).unwrap();
        assert_eq!(all, [28, 29]);
        assert!(reader.seek(SeekFrom::Current(-100)).is_err());
        reader.seek(SeekFrom::Start(1000)).unwrap();
        assert_eq!(reader.read(&mut buf).unwrap(), 0);
    }
}
