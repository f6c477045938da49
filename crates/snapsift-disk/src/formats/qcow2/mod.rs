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
//! Not read: internal snapshots. Their clusters hold the guest's older data, which this reader
//! does not show; only the active disk is read.
//!
//! Why not the `qcow2-rs` crate the design card names: it is async-first (a runtime per
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

use crate::host::Host;
use crate::{Disk, DiskError, Opener, check_bounds, ranges};

use header::{Compression, Header};
use l2::Cluster;

/// What went wrong in a parse, before the image's path is attached.
#[derive(Debug)]
pub(crate) enum Problem {
    /// The image contradicts itself or the specification.
    Corrupt(String),
    /// The image is valid but uses something this reader does not do.
    Unsupported(String),
}

/// Opens `host` as a qcow2 image, with its backing chain.
pub(crate) fn open(host: Host, opener: &mut Opener) -> Result<Box<dyn Disk>, DiskError> {
    Ok(Box::new(Qcow2Disk::open(host, opener)?))
}

/// A qcow2 image, read as its virtual disk.
struct Qcow2Disk {
    host: Host,
    header: Header,
    /// The L1 table, decoded.
    l1: Vec<u64>,
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
        // The header and its extensions live in the first cluster (at most 2 MiB).
        let head_len = usize::try_from(host.len().min(1 << 21)).unwrap_or(1 << 21);
        let head = host.read_vec(0, head_len)?;
        let header = header::parse(&head).map_err(|p| problem(&host, p))?;
        let l1_bytes = usize::try_from(header.l1_entries.saturating_mul(8))
            .map_err(|_| corrupt(&host, "the L1 table does not fit in memory"))?;
        let l1 = host
            .read_vec(header.l1_offset, l1_bytes)?
            .chunks_exact(8)
            .map(|e| header::be64(e, 0))
            .collect();
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
            backing,
        })
    }

    /// The raw L2 entries for clusters `first..first + count`, which lie in one L2 table;
    /// `None` where the L1 entry says the whole table is unallocated.
    fn l2_slice(&self, first: u64, count: u64) -> Result<Option<Vec<u8>>, DiskError> {
        let l2_entries = self.header.l2_entries();
        let l1_index = usize::try_from(first / l2_entries).unwrap_or(usize::MAX);
        let l1_entry = *self
            .l1
            .get(l1_index)
            .ok_or_else(|| corrupt(&self.host, "a cluster lies beyond the L1 table"))?;
        let Some(table) =
            l2::l2_table_offset(l1_entry, &self.header).map_err(|p| problem(&self.host, p))?
        else {
            return Ok(None);
        };
        let entry_size = self.header.l2_entry_size();
        let start = table.saturating_add((first % l2_entries).saturating_mul(entry_size));
        let len = usize::try_from(count.saturating_mul(entry_size)).unwrap_or(usize::MAX);
        Ok(Some(self.host.read_vec(start, len)?))
    }

    /// Reads from the backing image, or zeros where there is none or it is shorter.
    fn read_backing(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        let available = match &self.backing {
            Some(backing) => backing.size().saturating_sub(offset),
            None => 0,
        };
        let from_backing = usize::try_from(available)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let (head, tail) = buf.split_at_mut(from_backing);
        if let Some(backing) = &self.backing
            && !head.is_empty()
        {
            backing.read_exact_at(offset, head)?;
        }
        tail.fill(0);
        Ok(())
    }

    /// Inflates the compressed cluster at `offset`, `len` bytes, into `out` (one cluster).
    fn inflate(&self, offset: u64, len: u64, out: &mut [u8]) -> Result<(), DiskError> {
        // A compressed cluster never needs more than its own size plus a sector of slack;
        // a larger length is a lie that would make us allocate for it.
        let limit = self.header.cluster_size().get().saturating_mul(2);
        if len > limit {
            return Err(corrupt(
                &self.host,
                &format!("a compressed cluster claims {len} bytes"),
            ));
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
        inflated.map_err(|reason| {
            corrupt(
                &self.host,
                &format!("compressed cluster at {offset:#x}: {reason}"),
            )
        })
    }
}

impl Disk for Qcow2Disk {
    fn size(&self) -> u64 {
        self.header.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        check_bounds(offset, buf.len(), self.size())?;
        let cluster_size = self.header.cluster_size();
        let l2_entries = self.header.l2_entries();
        let len = buf.len();
        // In bounds: offset + len fits (checked above).
        let end = offset.saturating_add(len as u64);
        let mut reader = SpanReader::new(self, buf);
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
                        l2::decode(t, index, &self.header).map_err(|p| problem(&self.host, p))?
                    }
                };
                let cluster_start = first.saturating_add(i).saturating_mul(cluster_size.get());
                let within = pos.saturating_sub(cluster_start);
                let n = cluster_size
                    .get()
                    .saturating_sub(within)
                    .min(end.saturating_sub(pos));
                let dest = buf_range(pos.saturating_sub(offset), n);
                reader.add(cluster, cluster_start, within, dest)?;
                pos = pos.saturating_add(n);
            }
        }
        reader.flush()
    }

    fn data_ranges(&self) -> Result<Vec<Range<u64>>, DiskError> {
        let cluster_size = self.header.cluster_size().get();
        let sub_size = self.header.subcluster_size().get();
        let l2_entries = self.header.l2_entries().get();
        let mut own: Vec<Range<u64>> = Vec::new();
        for l1_index in 0..self.l1.len() as u64 {
            let first = l1_index.saturating_mul(l2_entries);
            let first_offset = first.saturating_mul(cluster_size);
            if first_offset >= self.size() {
                break;
            }
            let Some(table) = self.l2_slice(first, l2_entries)? else {
                continue;
            };
            for i in 0..l2_entries {
                let index = usize::try_from(i).unwrap_or(usize::MAX);
                let cluster =
                    l2::decode(&table, index, &self.header).map_err(|p| problem(&self.host, p))?;
                let start = first_offset.saturating_add(i.saturating_mul(cluster_size));
                match cluster {
                    Cluster::Subclusters { allocated, .. } => {
                        for sub in (0..l2::SUBCLUSTERS).filter(|s| allocated & (1 << s) != 0) {
                            let sub_start =
                                start.saturating_add(u64::from(sub).saturating_mul(sub_size));
                            own.push(sub_start..sub_start.saturating_add(sub_size));
                        }
                    }
                    c if c.holds_data() => own.push(start..start.saturating_add(cluster_size)),
                    _ => {}
                }
            }
        }
        let backing = match &self.backing {
            Some(backing) => backing.data_ranges()?,
            None => Vec::new(),
        };
        Ok(ranges::union(own, &backing, self.size()))
    }

    fn kind(&self) -> &'static str {
        match (self.backing.is_some(), self.header.version) {
            (true, _) => "qcow2 image with backing chain",
            (false, 2) => "qcow2 image (v2)",
            (false, _) => "qcow2 image (v3)",
        }
    }
}

/// Fills one read's buffer cluster by cluster, gathering runs that one read can serve: data
/// clusters contiguous both in the file and in the buffer, and unallocated stretches.
struct SpanReader<'d, 'b> {
    disk: &'d Qcow2Disk,
    buf: &'b mut [u8],
    /// A pending file read: file offset, and where it goes in `buf`.
    file_run: Option<(u64, Range<usize>)>,
    /// A pending backing read: virtual offset, and where it goes in `buf`.
    backing_run: Option<(u64, Range<usize>)>,
    /// Scratch for one inflated cluster, allocated on first use.
    inflated: Vec<u8>,
}

impl<'d, 'b> SpanReader<'d, 'b> {
    fn new(disk: &'d Qcow2Disk, buf: &'b mut [u8]) -> Self {
        SpanReader {
            disk,
            buf,
            file_run: None,
            backing_run: None,
            inflated: Vec::new(),
        }
    }

    /// Fills `dest` of the buffer: bytes `within..` of the cluster starting at virtual offset
    /// `cluster_start`.
    fn add(
        &mut self,
        cluster: Cluster,
        cluster_start: u64,
        within: u64,
        dest: Range<usize>,
    ) -> Result<(), DiskError> {
        match cluster {
            Cluster::Data(host) => self.file(host.saturating_add(within), dest),
            Cluster::Zero => {
                self.buf[dest].fill(0);
                Ok(())
            }
            Cluster::Unallocated => self.backing(cluster_start.saturating_add(within), dest),
            Cluster::Compressed { offset, len } => {
                let size = usize::try_from(self.disk.header.cluster_size().get()).unwrap_or(0);
                self.inflated.resize(size, 0);
                self.disk.inflate(offset, len, &mut self.inflated)?;
                let from = usize::try_from(within).unwrap_or(usize::MAX);
                let to = from.saturating_add(dest.len());
                self.buf[dest].copy_from_slice(&self.inflated[from..to]);
                Ok(())
            }
            Cluster::Subclusters {
                offset,
                allocated,
                zero,
            } => {
                let sub_size = self.disk.header.subcluster_size();
                let mut pos = within;
                let mut at = dest.start;
                while at < dest.end {
                    // Below SUBCLUSTERS: `pos` is within the cluster.
                    let sub = u32::try_from(pos / sub_size).unwrap_or(u32::MAX) & 31;
                    let n = usize::try_from(sub_size.get().saturating_sub(pos % sub_size))
                        .unwrap_or(usize::MAX)
                        .min(dest.end.saturating_sub(at));
                    let part = at..at.saturating_add(n);
                    if allocated & (1 << sub) != 0 {
                        self.file(offset.saturating_add(pos), part)?;
                    } else if zero & (1 << sub) != 0 {
                        self.buf[part].fill(0);
                    } else {
                        self.backing(cluster_start.saturating_add(pos), part)?;
                    }
                    pos = pos.saturating_add(n as u64);
                    at = at.saturating_add(n);
                }
                Ok(())
            }
        }
    }

    /// Queues a file read, extending the pending one if it continues it in the file and in
    /// the buffer.
    fn file(&mut self, at: u64, dest: Range<usize>) -> Result<(), DiskError> {
        if let Some((start, run)) = self.file_run.take() {
            if continues(start, &run, at, &dest) {
                self.file_run = Some((start, run.start..dest.end));
                return Ok(());
            }
            self.disk.host.read_exact_at(start, &mut self.buf[run])?;
        }
        self.file_run = Some((at, dest));
        Ok(())
    }

    /// Queues a backing read, extending the pending one if it continues it.
    fn backing(&mut self, at: u64, dest: Range<usize>) -> Result<(), DiskError> {
        if let Some((start, run)) = self.backing_run.take() {
            if continues(start, &run, at, &dest) {
                self.backing_run = Some((start, run.start..dest.end));
                return Ok(());
            }
            self.disk.read_backing(start, &mut self.buf[run])?;
        }
        self.backing_run = Some((at, dest));
        Ok(())
    }

    /// Performs the pending reads.
    fn flush(mut self) -> Result<(), DiskError> {
        if let Some((at, run)) = self.file_run.take() {
            self.disk.host.read_exact_at(at, &mut self.buf[run])?;
        }
        if let Some((at, run)) = self.backing_run.take() {
            self.disk.read_backing(at, &mut self.buf[run])?;
        }
        Ok(())
    }
}

/// Whether a read of `dest` from `at` continues the run of `run` from `start`: next in the
/// source and next in the buffer.
fn continues(start: u64, run: &Range<usize>, at: u64, dest: &Range<usize>) -> bool {
    run.end == dest.start && start.checked_add(run.len() as u64) == Some(at)
}

/// `len` bytes of a read's buffer at `offset` into it; both are within the buffer, whose length
/// fits in `usize`.
fn buf_range(offset: u64, len: u64) -> Range<usize> {
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    start..start.saturating_add(usize::try_from(len).unwrap_or(usize::MAX))
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
    let mut decoder = Decoder::new().map_err(|e| e.to_string())?;
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
}

/// A corruption error for this image.
fn corrupt(host: &Host, reason: &str) -> DiskError {
    problem(host, Problem::Corrupt(reason.to_owned()))
}

/// Attaches the image's path to a parse problem.
fn problem(host: &Host, problem: Problem) -> DiskError {
    match problem {
        Problem::Corrupt(reason) => DiskError::Corrupt {
            path: host.path_buf(),
            format: "qcow2",
            reason,
        },
        Problem::Unsupported(feature) => DiskError::Unsupported {
            path: host.path_buf(),
            format: "qcow2",
            feature,
        },
    }
}
