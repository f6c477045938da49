//! Compressed streams (gzip, zstd, xz, bzip2), decoded as they are read.

use std::io::{self, Read};

use crate::budget::Metered;
use crate::fuse::Fused;
use crate::walk::{Body, Fatal, Walker, describe};
use crate::{Kind, Layer, Limits, Problem, Visitor, XZ_MEMORY_LIMIT};

/// What zstd says of a frame whose window is larger than the decoder allows
/// (`ZSTD_error_frameParameter_windowTooLarge`); the crate gives only the message.
const ZSTD_WINDOW_TOO_LARGE: &str = "Frame requires too much memory for decoding";

impl<V: Visitor + ?Sized> Walker<'_, V> {
    /// Decodes `input`, a stream of `kind`, and walks what it holds.
    pub(crate) fn stream(&mut self, kind: Kind, input: &mut dyn Read) -> Result<(), Fatal<V>> {
        let layer = Layer { kind, member: None };
        let decoder = match decoder(kind, input, self.limits) {
            Ok(decoder) => decoder,
            Err(error) => {
                return self.within(layer, |walker| {
                    walker.problem(Problem::Corrupt {
                        kind,
                        detail: describe(&error),
                    })
                });
            }
        };
        let mut output = Fused::new(Metered::new(decoder, self.budget), self.faults);
        let limits = self.limits;
        self.within(layer, |walker| {
            walker.node(Body::Stream {
                reader: &mut output,
                len: None,
            })?;
            let fault = output.finish();
            let memory = fault
                .as_ref()
                .and_then(|fault| needs_more_memory(kind, &fault.error, limits));
            match memory {
                Some(limit) => walker.problem(Problem::TooMuchMemory { kind, limit }),
                None => walker.fault(kind, fault),
            }
        })
    }
}

/// A decoder of `kind` reading `input`, going on through concatenated members, frames or
/// streams as the tools that write them do.
fn decoder<'a>(
    kind: Kind,
    input: impl Read + 'a,
    limits: &Limits,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match kind {
        Kind::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
        Kind::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::new(input)?;
            // A frame needing a larger window fails (see `needs_more_memory`).
            decoder.window_log_max(window_log(limits.max_zstd_window))?;
            Box::new(decoder)
        }
        Kind::Xz => {
            let stream = liblzma::stream::Stream::new_stream_decoder(
                XZ_MEMORY_LIMIT,
                liblzma::stream::CONCATENATED,
            )
            .map_err(io::Error::other)?;
            Box::new(liblzma::read::XzDecoder::new_stream(input, stream))
        }
        Kind::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(input)),
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{other} is not a compressed stream"),
            ));
        }
    })
}

/// The window log zstd is given for a window of at most `max_window` bytes: the largest power
/// of two that fits, between zstd's smallest (1 KiB) and largest (2 GiB) windows.
fn window_log(max_window: u64) -> u32 {
    max_window.checked_ilog2().unwrap_or(0).clamp(10, 31)
}

/// The decoder memory limit a stream of `kind` failed with `error` on, if that is why it
/// failed: xz's memory limit, or a zstd frame's window past [`Limits::max_zstd_window`].
fn needs_more_memory(kind: Kind, error: &io::Error, limits: &Limits) -> Option<u64> {
    match kind {
        Kind::Xz => {
            let memory = error
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<liblzma::stream::Error>())
                .is_some_and(|inner| matches!(inner, liblzma::stream::Error::MemLimit));
            memory.then_some(XZ_MEMORY_LIMIT)
        }
        Kind::Zstd => error
            .to_string()
            .contains(ZSTD_WINDOW_TOO_LARGE)
            .then(|| 1u64 << window_log(limits.max_zstd_window)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_logs() {
        assert_eq!(window_log(8 << 20), 23);
        assert_eq!(window_log((8 << 20) + 1), 23);
        assert_eq!(window_log((8 << 20) - 1), 22);
        assert_eq!(window_log(0), 10);
        assert_eq!(window_log(u64::MAX), 31);
    }
}
