//! Compressed streams (gzip, zstd, xz, bzip2), decoded as they are read.

use std::cell::Cell;
use std::io::{self, Read};

use crate::budget::{Counted, Metered};
use crate::fuse::Fused;
use crate::walk::{Body, Fatal, Walker, describe};
use crate::{Kind, Layer, Problem, Visitor};

/// The most memory an xz stream may make its decoder take. xz's heaviest preset (-9) needs
/// 65 MiB; a stream that asks for more than this is refused rather than obeyed.
const XZ_MEMORY_LIMIT: u64 = 256 << 20;

impl<V: Visitor + ?Sized> Walker<'_, V> {
    /// Decodes `input`, a stream of `kind`, and walks what it holds.
    pub(crate) fn stream(&mut self, kind: Kind, input: &mut dyn Read) -> Result<(), Fatal<V>> {
        let layer = Layer { kind, member: None };
        let consumed = Cell::new(0);
        let decoder = match decoder(kind, Counted::new(input, &consumed)) {
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
        // Counted from 0: some decoders read their input ahead as they are made.
        let mut output = Fused::new(
            Metered::new(decoder, self.budget, &consumed, 0),
            self.faults,
        );
        self.within(layer, |walker| {
            walker.node(Body::Stream {
                reader: &mut output,
                len: None,
            })?;
            let fault = output.finish().map(|mut fault| {
                fault.error = explain(fault.error);
                fault
            });
            walker.fault(kind, fault)
        })
    }
}

/// A decoder of `kind` reading `input`, going on through concatenated members, frames or
/// streams as the tools that write them do.
fn decoder<'a>(kind: Kind, input: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match kind {
        Kind::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
        // Its window is capped at 128 MiB (zstd's default): a frame needing more fails.
        Kind::Zstd => Box::new(zstd::stream::read::Decoder::new(input)?),
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

/// Says what xz's terse "memory limit reached" means here.
fn explain(error: io::Error) -> io::Error {
    let memory = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<liblzma::stream::Error>())
        .is_some_and(|inner| matches!(inner, liblzma::stream::Error::MemLimit));
    if memory {
        return io::Error::other(format!(
            "the stream needs more than {} MiB of memory to decode; not decoded",
            XZ_MEMORY_LIMIT >> 20
        ));
    }
    error
}
