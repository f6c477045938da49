//! Raw images compressed as a whole (`.raw.zst`, `.img.gz`): read front to back, once.
//!
//! A compressed stream cannot be read at random offsets without decompressing everything
//! before them, so these images are not a [`crate::Disk`]: they are a [`StreamImage`], a
//! [`Read`] of the decompressed disk that the scanner consumes sequentially, never
//! decompressing to disk unless asked to ([`StreamImage::spill`]). zstd streams may hold several frames and gzip files several members,
//! as parallel compressors write them; both are read to the end.

use std::io::{self, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::DiskError;
use crate::formats::Format;
use crate::host::Host;

/// The largest zstd window accepted: 2^31 = 2 GiB, the most zstd itself takes (`zstd
/// --long=31`, for images compressed with long-distance matching). The decoder holds the
/// frame's window, or the frame's size if it declares a smaller one, in memory: up to 2 GiB
/// for a whole-image stream, which is read once, front to back. zstd's own default limit
/// (2^27) would refuse such images.
#[cfg(target_pointer_width = "64")]
const ZSTD_WINDOW_LOG_MAX: u32 = 31;
/// On 32-bit targets zstd takes 2^30 at most.
#[cfg(not(target_pointer_width = "64"))]
const ZSTD_WINDOW_LOG_MAX: u32 = 30;

/// A raw disk image compressed as a whole, read as its decompressed bytes.
pub struct StreamImage {
    decoder: Box<dyn Read + Send>,
    format: Format,
    compressed_len: u64,
    pub(super) compressed_read: Arc<AtomicU64>,
    /// The compressed file, for messages.
    pub(super) path: PathBuf,
}

impl std::fmt::Debug for StreamImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamImage")
            .field("format", &self.format)
            .field("compressed_len", &self.compressed_len)
            .finish()
    }
}

impl StreamImage {
    /// Starts decompressing `host`, compressed as `format` ([`Format::Zstd`] or
    /// [`Format::Gzip`]).
    pub(crate) fn new(host: Host, format: Format) -> Result<StreamImage, DiskError> {
        let compressed_len = host.len();
        let compressed_read = Arc::new(AtomicU64::new(0));
        let source = BufReader::with_capacity(
            1 << 20,
            HostReader {
                host: host.clone(),
                pos: 0,
                read: Arc::clone(&compressed_read),
            },
        );
        let decoder: Box<dyn Read + Send> = match format {
            Format::Zstd => {
                let mut decoder =
                    zstd::stream::read::Decoder::with_buffer(source).map_err(|source| {
                        DiskError::Read {
                            offset: 0,
                            len: 0,
                            source,
                        }
                    })?;
                decoder
                    .window_log_max(ZSTD_WINDOW_LOG_MAX)
                    .map_err(|source| DiskError::Read {
                        offset: 0,
                        len: 0,
                        source,
                    })?;
                Box::new(decoder)
            }
            Format::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(source)),
            other => {
                return Err(DiskError::Unsupported {
                    path: host.path_buf(),
                    format: other.name(),
                    feature: "it is not a compressed stream".into(),
                });
            }
        };
        Ok(StreamImage {
            decoder,
            format,
            compressed_len,
            compressed_read,
            path: host.path_buf(),
        })
    }

    /// How the image is compressed.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The size of the compressed file.
    pub fn compressed_len(&self) -> u64 {
        self.compressed_len
    }

    /// A counter of the compressed bytes read so far, for progress: the decompressed size is
    /// not known until the end.
    pub fn compressed_read(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.compressed_read)
    }

    /// A short human description, such as `zstd-compressed raw image`.
    pub fn kind(&self) -> &'static str {
        match self.format {
            Format::Gzip => "gzip-compressed raw image",
            _ => "zstd-compressed raw image",
        }
    }
}

impl Read for StreamImage {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.decoder.read(buf).map_err(explain)
    }
}

/// Says what zstd's terse "Frame requires too much memory for decoding" means here: the
/// frame's window is larger than any zstd decoder takes.
fn explain(error: io::Error) -> io::Error {
    if error
        .to_string()
        .contains("Frame requires too much memory for decoding")
    {
        return io::Error::new(
            error.kind(),
            format!(
                "{error}: the frame needs a window larger than {} MiB, the most zstd decodes",
                (1u64 << ZSTD_WINDOW_LOG_MAX) >> 20
            ),
        );
    }
    error
}

/// Reads a host front to back, counting what it has read.
struct HostReader {
    host: Host,
    pos: u64,
    read: Arc<AtomicU64>,
}

impl Read for HostReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.host.len().saturating_sub(self.pos);
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        self.host
            .read_exact_at(self.pos, &mut buf[..n])
            .map_err(io::Error::other)?;
        self.pos = self.pos.saturating_add(n as u64);
        self.read.store(self.pos, Ordering::Relaxed);
        Ok(n)
    }
}
