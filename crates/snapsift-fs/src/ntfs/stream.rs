//! From a non-resident stream's runs to its logical contents (spans) and to the stretches of
//! the volume it claims (no I/O).
//!
//! A plain stream's runs map file bytes to clusters one to one. A compressed stream is cut
//! into compression units (usually 16 clusters): a unit whose clusters are all allocated is
//! stored as it is (plain spans); one with some allocated clusters and the rest sparse holds
//! its LZNT1-compressed form in the allocated ones (a [`Piece::Lznt1`] span); one with none
//! reads as zeros. Bytes past the initialized size read as zeros whatever the clusters hold.

use crate::content::{Piece, Span};

use super::runs::Run;

/// Clusters of the volume a stream claims: `len` bytes at volume offset `at`, of which the
/// first `data` are the stream's data and the rest its slack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stretch {
    /// Volume offset.
    pub(crate) at: u64,
    /// Bytes.
    pub(crate) len: u64,
    /// Leading bytes that are data.
    pub(crate) data: u64,
}

/// A stream's spans and stretches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Its logical contents, in file order.
    pub(crate) spans: Vec<Span>,
    /// The clusters it claims.
    pub(crate) stretches: Vec<Stretch>,
}

/// What the walk knows of a non-resident stream.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    /// Bytes per cluster.
    pub(crate) cluster: u64,
    /// The stream's size.
    pub(crate) size: u64,
    /// Bytes written: past them the stream reads as zeros.
    pub(crate) initialized: u64,
    /// Clusters per compression unit, for a compressed stream.
    pub(crate) unit: Option<u64>,
}

impl Shape {
    /// Bytes that read as what the clusters hold.
    fn valid(&self) -> u64 {
        self.size.min(self.initialized)
    }
}

/// Lays out a stream whose runs (sorted by VCN, inside the volume) are `runs`.
pub(crate) fn layout(runs: &[Run], shape: Shape) -> Layout {
    let mut out = Layout::default();
    match shape.unit {
        Some(unit) if unit > 1 => compressed(runs, shape, unit, &mut out),
        _ => {
            for run in runs {
                plain(run, shape, &mut out);
            }
        }
    }
    if shape.valid() < shape.size {
        out.spans = zeros_past(out.spans, shape.valid());
    }
    out
}

/// One run of a plain stream (or of a unit stored as it is).
fn plain(run: &Run, shape: Shape, out: &mut Layout) {
    let (Some(start), Some(len)) = (
        run.vcn.checked_mul(shape.cluster),
        run.len.checked_mul(shape.cluster),
    ) else {
        return;
    };
    let Some(lcn) = run.lcn else {
        out.spans.push(Span {
            start,
            len,
            piece: Piece::Zeros,
        });
        return;
    };
    let Some(at) = lcn.checked_mul(shape.cluster) else {
        return;
    };
    out.spans.push(Span {
        start,
        len,
        piece: Piece::Volume(at),
    });
    out.stretches.push(Stretch {
        at,
        len,
        data: shape.valid().saturating_sub(start).min(len),
    });
}

/// A compressed stream, unit by unit; only units holding allocated clusters cost work.
fn compressed(runs: &[Run], shape: Shape, unit: u64, out: &mut Layout) {
    // The allocated pieces, in VCN order, cut at unit boundaries.
    let mut pieces: Vec<Run> = Vec::new();
    for run in runs.iter().filter(|r| r.lcn.is_some()) {
        let mut vcn = run.vcn;
        let end = run.vcn_end();
        while vcn < end {
            let unit_end = unit_of(vcn, unit).saturating_add(1).saturating_mul(unit);
            let stop = unit_end.min(end);
            let lcn = run
                .lcn
                .and_then(|l| l.checked_add(vcn.saturating_sub(run.vcn)));
            pieces.push(Run {
                vcn,
                len: stop.saturating_sub(vcn),
                lcn,
            });
            if stop <= vcn {
                break;
            }
            vcn = stop;
        }
    }
    let mut i = 0;
    while let Some(first) = pieces.get(i) {
        let index = unit_of(first.vcn, unit);
        let in_unit = pieces[i..]
            .iter()
            .take_while(|p| unit_of(p.vcn, unit) == index)
            .count();
        let unit_pieces = &pieces[i..i.saturating_add(in_unit)];
        i = i.saturating_add(in_unit);
        let allocated: u64 = unit_pieces.iter().map(|p| p.len).sum();
        if allocated >= unit {
            // Stored as it is.
            for piece in unit_pieces {
                plain(piece, shape, out);
            }
            continue;
        }
        let (Some(start), Some(len)) = (
            index
                .checked_mul(unit)
                .and_then(|v| v.checked_mul(shape.cluster)),
            unit.checked_mul(shape.cluster),
        ) else {
            continue;
        };
        let mut compressed_runs = Vec::with_capacity(unit_pieces.len());
        for piece in unit_pieces {
            let (Some(at), Some(bytes)) = (
                piece.lcn.and_then(|l| l.checked_mul(shape.cluster)),
                piece.len.checked_mul(shape.cluster),
            ) else {
                continue;
            };
            compressed_runs.push((at, bytes));
            // The compressed form is the file's data, every byte of it.
            out.stretches.push(Stretch {
                at,
                len: bytes,
                data: bytes,
            });
        }
        out.spans.push(Span {
            start,
            len,
            piece: Piece::Lznt1 {
                runs: compressed_runs,
                skip: 0,
            },
        });
    }
}

/// The compression unit holding cluster `vcn`.
fn unit_of(vcn: u64, unit: u64) -> u64 {
    vcn.checked_div(unit).unwrap_or(0)
}

/// `spans` with every byte from `valid` on reading as zeros.
fn zeros_past(spans: Vec<Span>, valid: u64) -> Vec<Span> {
    let mut out = Vec::with_capacity(spans.len());
    for span in spans {
        if span.end() <= valid || matches!(span.piece, Piece::Zeros) {
            out.push(span);
        } else if span.start >= valid {
            out.push(Span {
                piece: Piece::Zeros,
                ..span
            });
        } else {
            let head = valid.saturating_sub(span.start);
            out.push(Span {
                start: valid,
                len: span.len.saturating_sub(head),
                piece: Piece::Zeros,
            });
            out.push(Span { len: head, ..span });
        }
    }
    out.sort_by_key(|s| s.start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(vcn: u64, len: u64, lcn: Option<u64>) -> Run {
        Run { vcn, len, lcn }
    }

    fn shape(size: u64, initialized: u64, unit: Option<u64>) -> Shape {
        Shape {
            cluster: 100,
            size,
            initialized,
            unit,
        }
    }

    #[test]
    fn plain_runs_sparse_runs_and_slack() {
        let runs = [run(0, 2, Some(10)), run(2, 3, None), run(5, 1, Some(50))];
        let layout = layout(&runs, shape(550, 550, None));
        assert_eq!(
            layout.spans,
            vec![
                Span {
                    start: 0,
                    len: 200,
                    piece: Piece::Volume(1000)
                },
                Span {
                    start: 200,
                    len: 300,
                    piece: Piece::Zeros
                },
                Span {
                    start: 500,
                    len: 100,
                    piece: Piece::Volume(5000)
                },
            ]
        );
        assert_eq!(
            layout.stretches,
            vec![
                Stretch {
                    at: 1000,
                    len: 200,
                    data: 200
                },
                Stretch {
                    at: 5000,
                    len: 100,
                    data: 50
                },
            ]
        );
    }

    #[test]
    fn bytes_past_the_initialized_size_are_zeros_and_slack() {
        let layout = layout(&[run(0, 3, Some(1))], shape(300, 150, None));
        assert_eq!(
            layout.spans,
            vec![
                Span {
                    start: 0,
                    len: 150,
                    piece: Piece::Volume(100)
                },
                Span {
                    start: 150,
                    len: 150,
                    piece: Piece::Zeros
                },
            ]
        );
        assert_eq!(layout.stretches[0].data, 150);
    }

    #[test]
    fn compression_units() {
        // Units of 4 clusters: unit 0 compressed in 2 clusters (split over two runs), unit 1
        // all sparse, unit 2 stored as it is, unit 3 compressed in one cluster.
        let runs = [
            run(0, 1, Some(10)),
            run(1, 1, Some(20)),
            run(2, 6, None),
            run(8, 5, Some(30)),
            run(13, 3, None),
        ];
        let layout = layout(&runs, shape(1600, 1600, Some(4)));
        let pieces: Vec<(u64, u64, Piece)> = layout
            .spans
            .iter()
            .map(|s| (s.start, s.len, s.piece.clone()))
            .collect();
        assert_eq!(
            pieces,
            vec![
                (
                    0,
                    400,
                    Piece::Lznt1 {
                        runs: vec![(1000, 100), (2000, 100)],
                        skip: 0
                    }
                ),
                (800, 400, Piece::Volume(3000)),
                (
                    1200,
                    400,
                    Piece::Lznt1 {
                        runs: vec![(3400, 100)],
                        skip: 0
                    }
                ),
            ]
        );
        let data: Vec<(u64, u64, u64)> = layout
            .stretches
            .iter()
            .map(|s| (s.at, s.len, s.data))
            .collect();
        assert_eq!(
            data,
            vec![
                (1000, 100, 100),
                (2000, 100, 100),
                (3000, 400, 400),
                (3400, 100, 100)
            ]
        );
    }
}
