//! qcow2, versions 2 and 3: the virtual disk through the L1 and L2 tables.
//!
//! Supported: clusters of 512 bytes to 2 MiB; unallocated and zero clusters; deflate and zstd
//! compressed clusters; extended L2 entries (subclusters); backing files, raw or qcow2, to any
//! depth the [`Opener`] allows, relative names resolved from the overlay's directory, the
//! overlay's data winning and a shorter backing image reading as zeros past its end; dirty
//! images (the flag a crash leaves) and images QEMU marked corrupt, read as they are.
//!
//! Refused with [`DiskError::Unsupported`]: encrypted images (AES, LUKS), images whose data
//! lives in an external data file, and unknown incompatible features.
//!
//! Damage is local: an L1 or L2 table that cannot be read (an I/O error, or a file cut short
//! before it) loses the stretch of the virtual disk it maps, and data clusters past the end of
//! a cut file lose their own bytes; [`Disk::data_map`] lists those stretches as unreadable and
//! the rest of the disk is read. Only a header that cannot be read loses the image.
//!
//! Not read: internal snapshots. Their clusters hold the guest's older data, which this reader
//! does not show; only the active disk is read.
//!
//! Why not the `qcow2-rs` crate: it is async-first (a runtime per
//! reader), inflates zlib only and refuses images with any incompatible feature bit set, which
//! rules out zstd, extended L2 and dirty images; this reader is synchronous, shares one
//! descriptor between scanning threads with positional reads, and needs no runtime.
//!
//! # Reading
//!
//! Nothing is cached: each read fetches the slice of the L2 table it needs (a scan's chunk of
//! 8 MiB needs one read of a few hundred bytes), then the data, coalescing clusters that are
//! contiguous in the file into one read. Compressed clusters are inflated inside the read that
//! needs them, so scanning threads decompress in parallel.

mod header;
mod l2;

use std::ops::Range;
use std::path::PathBuf;

use super::assemble::{Assembler, Source};
use super::bytes;
use super::lost::{Table, read_table};
use super::refusal::Refusal;
use crate::host::Host;
use crate::{DataMap, Disk, DiskError, Opener, Unreadable, check_bounds, ranges};

use header::{Compression, Header};
use l2::Cluster;

/// The format's name in errors.
const FORMAT: &str = "qcow2";

/// Opens `host` as a qcow2 image, with its backing chain.
pub(crate) fn open(host: Host, opener: &mut Opener) -> Result<Box<dyn Disk>, DiskError> {
    Ok(Box::new(Qcow2Disk::open(host, opener)?))
}

/// A qcow2 image, read as its virtual disk.
struct Qcow2Disk {
    host: Host,
    header: Header,
    /// The L1 table, decoded, up to the end of the file (entries that could not be read are 0).
    l1: Vec<u64>,
    /// The bytes of the L1 table that could not be read.
    l1_lost: Table,
    backing: Option<Box<dyn Disk>>,
}

impl std::fmt::Debug for Qcow2Disk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Qcow2Disk")
            .field("path", &self.host.path())
            .field("header", &self.header)
            .field("backing", &self.backing.as_ref().map(|b| b.kind()))
            .finish()
    }
}

impl Qcow2Disk {
    fn open(host: Host, opener: &mut Opener) -> Result<Self, DiskError> {
        // The header and its extensions live in the first cluster (at most 2 MiB); only that
        // cluster is read, so that damage to the tables after it does not lose the header.
        let prefix = host.read_vec(0, usize::try_from(host.len().min(512)).unwrap_or(512))?;
        let cluster_bits = prefix
            .get(20..24)
            .map_or(21, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .clamp(9, 21);
        let head_len = usize::try_from(host.len().min(1 << cluster_bits)).unwrap_or(1 << 21);
        let head = host.read_vec(0, head_len)?;
        let header = header::parse(&head).map_err(|r| r.at(host.path(), FORMAT))?;
        // The header bounded the L1 table's length.
        let mut l1_lost = read_table(
            &host,
            header.l1_offset,
            header.l1_entries.saturating_mul(8),
            "the L1 table",
        );
        let l1: Vec<u64> = std::mem::take(&mut l1_lost.bytes)
            .chunks_exact(8)
            .map(|e| bytes::be64(e, 0))
            .collect();
        check_l2_tables_distinct(&l1, &header).map_err(|r| r.at(host.path(), FORMAT))?;
        let backing = match header.backing_name {
            None => None,
            Some((offset, len)) => {
                let name = host.read_vec(offset, usize::try_from(len).unwrap_or(0))?;
                let name = PathBuf::from(String::from_utf8_lossy(&name).into_owned());
                Some(opener.open_backing(host.path(), &name)?)
            }
        };
        Ok(Qcow2Disk {
            host,
            header,
            l1,
            l1_lost,
            backing,
        })
    }

    /// The raw L2 entries for clusters `first..first + count`, which lie in one L2 table;
    /// `None` where the L1 entry says the whole table is unallocated.
    fn l2_slice(&self, first: u64, count: u64) -> Result<Option<Vec<u8>>, DiskError> {
        let l2_entries = self.header.l2_entries();
        let Some(table) = self.l2_table(first / l2_entries)? else {
            return Ok(None);
        };
        let entry_size = self.header.l2_entry_size();
        let start = table.saturating_add((first % l2_entries).saturating_mul(entry_size));
        let len = usize::try_from(count.saturating_mul(entry_size)).unwrap_or(usize::MAX);
        Ok(Some(self.host.read_vec(start, len)?))
    }

    /// The file offset of the L2 table of L1 entry `l1_index`, `None` if unallocated; a
    /// [`DiskError::Damaged`] if the entry could not be read.
    fn l2_table(&self, l1_index: u64) -> Result<Option<u64>, DiskError> {
        if l1_index >= self.header.l1_entries {
            return Err(self.corrupt("a cluster lies beyond the L1 table".into()));
        }
        let entry_bytes = l1_index.saturating_mul(8);
        if let Some(reason) = self
            .l1_lost
            .lost_in(entry_bytes..entry_bytes.saturating_add(8))
        {
            return Err(DiskError::Damaged {
                path: self.host.path_buf(),
                format: FORMAT,
                reason: format!("L1 entry {l1_index} is lost: {reason}"),
            });
        }
        let l1_entry = usize::try_from(l1_index)
            .ok()
            .and_then(|i| self.l1.get(i).copied())
            .ok_or_else(|| self.corrupt("a cluster lies beyond the L1 table".into()))?;
        l2::l2_table_offset(l1_entry, &self.header).map_err(|r| r.at(self.host.path(), FORMAT))
    }

    /// Inflates the compressed cluster at `offset`, `len` bytes, into `out` (one cluster).
    fn inflate(&self, offset: u64, len: u64, out: &mut [u8]) -> Result<(), DiskError> {
        // A compressed cluster never needs more than its own size plus a sector of slack;
        // a larger length is a lie that would make us allocate for it.
        let limit = self.header.cluster_size().get().saturating_mul(2);
        if len > limit {
            return Err(self.corrupt(format!("a compressed cluster claims {len} bytes")));
        }
        // The last sector counted may run past the end of the file, which holds only the
        // compressed stream: read what is there.
        let len = len.min(self.host.len().saturating_sub(offset));
        let input = self
            .host
            .read_vec(offset, usize::try_from(len).unwrap_or(0))?;
        let inflated = match self.header.compression {
            Compression::Deflate => inflate_deflate(&input, out),
            Compression::Zstd => inflate_zstd(&input, out),
        };
        inflated
            .map_err(|reason| self.corrupt(format!("compressed cluster at {offset:#x}: {reason}")))
    }
}

impl Qcow2Disk {
    /// Describes to `assembler` the next `n` bytes of a read: bytes `within..within + n` of a
    /// cluster. `inflated` is scratch for one inflated cluster.
    fn assemble(
        &self,
        assembler: &mut Assembler<'_>,
        cluster: Cluster,
        within: u64,
        n: u64,
        inflated: &mut Vec<u8>,
    ) -> Result<(), DiskError> {
        let len = usize::try_from(n).unwrap_or(usize::MAX);
        match cluster {
            Cluster::Data(host) => assembler.push(Source::Host(host.saturating_add(within)), len),
            Cluster::Zero => assembler.push(Source::Zero, len),
            Cluster::Unallocated => assembler.push(Source::Parent, len),
            Cluster::Compressed {
                offset,
                len: stored,
            } => assembler.direct(len, |out| {
                let size = usize::try_from(self.header.cluster_size().get()).unwrap_or(0);
                inflated.resize(size, 0);
                self.inflate(offset, stored, inflated)?;
                let from = usize::try_from(within).unwrap_or(usize::MAX);
                out.copy_from_slice(&inflated[from..from.saturating_add(out.len())]);
                Ok(())
            }),
            Cluster::Subclusters {
                offset,
                allocated,
                zero,
            } => {
                let sub_size = self.header.subcluster_size();
                let (mut pos, end) = (within, within.saturating_add(n));
                while pos < end {
                    // Below 32: `pos` is within the cluster.
                    let sub = u32::try_from(pos / sub_size).unwrap_or(u32::MAX) & 31;
                    let part = sub_size
                        .get()
                        .saturating_sub(pos % sub_size)
                        .min(end.saturating_sub(pos));
                    let source = if allocated & (1 << sub) != 0 {
                        Source::Host(offset.saturating_add(pos))
                    } else if zero & (1 << sub) != 0 {
                        Source::Zero
                    } else {
                        Source::Parent
                    };
                    assembler.push(source, usize::try_from(part).unwrap_or(usize::MAX))?;
                    pos = pos.saturating_add(part);
                }
                Ok(())
            }
        }
    }

    /// The bytes of the cluster at virtual `whole` (stored as `cluster`) that lie past the end
    /// of a file cut short, if any: reads of them fail.
    fn past_the_end(&self, cluster: Cluster, whole: Range<u64>) -> Option<Unreadable> {
        let file_len = self.host.len();
        let lost_from = match cluster {
            // Bytes of an uncompressed cluster are where they are: those before the cut read.
            Cluster::Data(at) => {
                let present = file_len.saturating_sub(at);
                (present < self.header.cluster_size().get())
                    .then(|| whole.start.saturating_add(present))?
            }
            // A compressed cluster cut anywhere does not inflate; one wholly past the end has
            // no byte left at all.
            Cluster::Compressed { offset, .. } => (offset >= file_len).then_some(whole.start)?,
            _ => return None,
        };
        Some(Unreadable {
            range: lost_from..whole.end,
            reason: format!(
                "its clusters lie past the end of the file ({file_len} bytes): the image is \
                 truncated"
            ),
        })
    }

    /// A corruption error for this image.
    fn corrupt(&self, reason: String) -> DiskError {
        Refusal::Corrupt(reason).at(self.host.path(), FORMAT)
    }
}

impl Disk for Qcow2Disk {
    fn size(&self) -> u64 {
        self.header.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        let end = check_bounds(offset, buf.len(), self.size())?;
        let cluster_size = self.header.cluster_size();
        let l2_entries = self.header.l2_entries();
        let mut assembler = Assembler::new(&self.host, self.backing.as_deref(), offset, buf);
        // One inflated cluster, allocated on the first compressed cluster of this read.
        let mut inflated = Vec::new();
        let mut pos = offset;
        while pos < end {
            // The rest of the request that falls in this L2 table is handled at once.
            let first = pos / cluster_size;
            let table_last = (first / l2_entries)
                .saturating_add(1)
                .saturating_mul(l2_entries.get())
                .saturating_sub(1);
            let last = (end.saturating_sub(1) / cluster_size).min(table_last);
            let count = last.saturating_sub(first).saturating_add(1);
            let table = self.l2_slice(first, count)?;
            for i in 0..count {
                let cluster = match &table {
                    None => Cluster::Unallocated,
                    Some(t) => {
                        let index = usize::try_from(i).unwrap_or(usize::MAX);
                        l2::decode(t, index, &self.header)
                            .map_err(|r| r.at(self.host.path(), FORMAT))?
                    }
                };
                let cluster_start = first.saturating_add(i).saturating_mul(cluster_size.get());
                let within = pos.saturating_sub(cluster_start);
                let n = cluster_size
                    .get()
                    .saturating_sub(within)
                    .min(end.saturating_sub(pos));
                self.assemble(&mut assembler, cluster, within, n, &mut inflated)?;
                pos = pos.saturating_add(n);
            }
        }
        assembler.finish()
    }

    fn data_ranges(&self) -> Result<Vec<Range<u64>>, DiskError> {
        self.data_map().map(|map| map.data)
    }

    fn data_map(&self) -> Result<DataMap, DiskError> {
        let cluster_size = self.header.cluster_size().get();
        let sub_size = self.header.subcluster_size().get();
        let l2_entries = self.header.l2_entries().get();
        let size = self.size();
        let mut own = DataMap::default();
        // The clusters that do not read through to the backing image.
        let mut hidden: Vec<Range<u64>> = Vec::new();
        for l1_index in 0..self.header.l1_entries {
            let first = l1_index.saturating_mul(l2_entries);
            let first_offset = first.saturating_mul(cluster_size);
            if first_offset >= size {
                break;
            }
            let mapped =
                first_offset..first_offset.saturating_add(l2_entries.saturating_mul(cluster_size));
            let entry_size = self.header.l2_entry_size();
            let table = match self.l2_table(l1_index) {
                Ok(Some(at)) => read_table(
                    &self.host,
                    at,
                    l2_entries.saturating_mul(entry_size),
                    &format!("the L2 table at {at:#x}"),
                ),
                Ok(None) => continue,
                // The L1 entry is lost: so is every cluster its table maps. A table that is
                // there but wrong still fails the image.
                Err(error @ DiskError::Damaged { .. }) => {
                    let range = mapped.start..mapped.end.min(size);
                    ranges::push_merged(&mut own.data, range.clone());
                    own.unreadable.push(Unreadable::because(range, &error));
                    continue;
                }
                Err(error) => return Err(error),
            };
            for i in 0..l2_entries {
                let start = first_offset.saturating_add(i.saturating_mul(cluster_size));
                // The last L2 table has entries past the disk's end: they are never read.
                if start >= size {
                    break;
                }
                let whole = start..start.saturating_add(cluster_size);
                // An entry that cannot be read (an I/O error, a table cut off with the file)
                // loses its cluster; reads of it fail as the table's read did.
                let at = i.saturating_mul(entry_size);
                if let Some(reason) = table.lost_in(at..at.saturating_add(entry_size)) {
                    ranges::push_merged(&mut own.data, whole.clone());
                    own.unreadable.push(Unreadable {
                        range: whole,
                        reason: reason.to_owned(),
                    });
                    continue;
                }
                let index = usize::try_from(i).unwrap_or(usize::MAX);
                let cluster = l2::decode(&table.bytes, index, &self.header)
                    .map_err(|r| r.at(self.host.path(), FORMAT))?;
                if cluster != Cluster::Unallocated {
                    ranges::push_merged(&mut hidden, whole.clone());
                }
                match cluster {
                    Cluster::Subclusters { allocated, .. } => {
                        for sub in (0..l2::SUBCLUSTERS).filter(|s| allocated & (1 << s) != 0) {
                            let sub_start =
                                start.saturating_add(u64::from(sub).saturating_mul(sub_size));
                            ranges::push_merged(
                                &mut own.data,
                                sub_start..sub_start.saturating_add(sub_size),
                            );
                        }
                    }
                    c if c.holds_data() => {
                        ranges::push_merged(&mut own.data, whole.clone());
                        if let Some(lost) = self.past_the_end(c, whole) {
                            own.unreadable.push(lost);
                        }
                    }
                    _ => {}
                }
            }
        }
        own.unreadable = ranges::normalize_unreadable(own.unreadable);
        ranges::with_parent(own, &hidden, self.backing.as_deref(), size)
    }

    fn kind(&self) -> &'static str {
        match (self.backing.is_some(), self.header.version) {
            (true, _) => "qcow2 image with backing chain",
            (false, 2) => "qcow2 image (v2)",
            (false, _) => "qcow2 image (v3)",
        }
    }
}

/// Refuses an L1 table in which two entries name the same L2 table: a loop of tables that QEMU
/// never writes (each L2 table of the active disk belongs to one stretch of it), which would
/// make one table of a small file map the same clusters again for every entry naming it, so
/// that the data to read grows with the square of the file's size.
fn check_l2_tables_distinct(l1: &[u64], header: &Header) -> Result<(), Refusal> {
    let mut tables: Vec<(u64, usize)> = Vec::new();
    for (index, &entry) in l1.iter().enumerate() {
        // A misaligned entry fails the reads it serves, not the whole image.
        if let Ok(Some(table)) = l2::l2_table_offset(entry, header) {
            tables.push((table, index));
        }
    }
    tables.sort_unstable();
    match tables.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        Some(pair) => Err(Refusal::Corrupt(format!(
            "L1 entries {} and {} both name the L2 table at {:#x} (a loop of tables)",
            pair[0].1.min(pair[1].1),
            pair[0].1.max(pair[1].1),
            pair[0].0
        ))),
        None => Ok(()),
    }
}

/// Decompresses a raw deflate stream into exactly `out.len()` bytes.
fn inflate_deflate(input: &[u8], out: &mut [u8]) -> Result<(), String> {
    let mut inflater = flate2::Decompress::new(false);
    inflater
        .decompress(input, out, flate2::FlushDecompress::Finish)
        .map_err(|e| format!("invalid deflate data ({e})"))?;
    if inflater.total_out() != out.len() as u64 {
        return Err(format!(
            "inflates to {} bytes, not one cluster of {}",
            inflater.total_out(),
            out.len()
        ));
    }
    Ok(())
}

/// Decompresses zstd data into exactly `out.len()` bytes, as QEMU does: the stream is read until
/// the cluster is full, and what follows (the padding of the last sector, which may hold the
/// next cluster's bytes) is ignored. Output beyond the cluster cannot be produced.
fn inflate_zstd(input: &[u8], out: &mut [u8]) -> Result<(), String> {
    use zstd::stream::raw::{Decoder, InBuffer, Operation, OutBuffer};
    thread_local! {
        // One decoder per thread, reset for each cluster: making a zstd context per cluster
        // took as long as a tenth of the decompression itself.
        static DECODER: std::cell::RefCell<Option<Decoder<'static>>> = const {
            std::cell::RefCell::new(None)
        };
    }
    DECODER.with_borrow_mut(|slot| {
        let decoder = match slot {
            Some(decoder) => {
                decoder.reinit().map_err(|e| e.to_string())?;
                decoder
            }
            None => slot.insert(Decoder::new().map_err(|e| e.to_string())?),
        };
        let mut input = InBuffer::around(input);
        let mut output = OutBuffer::around(out);
        while output.pos() < output.capacity() {
            let before = (input.pos(), output.pos());
            decoder
                .run(&mut input, &mut output)
                .map_err(|e| format!("invalid zstd data ({e})"))?;
            if (input.pos(), output.pos()) == before {
                return Err(format!(
                    "the zstd stream ends after {} bytes of a cluster of {}",
                    output.pos(),
                    output.capacity()
                ));
            }
        }
        Ok(())
    })
}
