//! What decompression may produce: the input's total, each layer's ratio, and the memory held
//! for nested zips; and the readers that count against them.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

use crate::{BufferPool, Kind, Limits, Problem};

/// The limits of one [`crate::unpack`] call and what has been spent against them.
pub(crate) struct Budget {
    max_expanded: u64,
    max_ratio: u64,
    ratio_grace: u64,
    max_buffered: u64,
    expanded: Cell<u64>,
    /// What this call holds for nested zips, also taken from `pool`.
    buffered: Cell<u64>,
    /// The memory for nested zips this call shares with others.
    pool: Arc<BufferPool>,
    /// Set when `max_expanded` is reached: from then on every layer ends and nothing more is
    /// visited or reported.
    stopped: Cell<bool>,
}

impl Budget {
    pub(crate) fn new(limits: &Limits, pool: Arc<BufferPool>) -> Self {
        Budget {
            max_expanded: limits.max_expanded,
            max_ratio: limits.max_ratio,
            ratio_grace: limits.ratio_grace,
            max_buffered: limits.max_buffered,
            expanded: Cell::new(0),
            buffered: Cell::new(0),
            pool,
            stopped: Cell::new(false),
        }
    }

    /// Whether the expansion limit has been reached.
    pub(crate) fn stopped(&self) -> bool {
        self.stopped.get()
    }

    /// Bytes produced by decompression so far.
    pub(crate) fn expanded(&self) -> u64 {
        self.expanded.get()
    }

    /// Reserves memory for a nested zip: what this call may still hold plus one byte (a zip
    /// that fills it all is too big), or less if the shared pool is short. A call holding
    /// nothing yet waits for the pool to have it all (see [`BufferPool`]). Returns the bytes
    /// reserved; the caller gives back what it does not keep ([`Budget::release`]).
    pub(crate) fn reserve_buffer(&self) -> u64 {
        let room = self.max_buffered.saturating_sub(self.buffered.get());
        let holds_nothing = self.buffered.get() == 0;
        let taken = self.pool.take(room.saturating_add(1), holds_nothing);
        self.buffered.set(self.buffered.get().saturating_add(taken));
        taken
    }

    /// Gives back `n` bytes [`Budget::reserve_buffer`] reserved.
    pub(crate) fn release(&self, n: u64) {
        self.buffered.set(self.buffered.get().saturating_sub(n));
        self.pool.give(n);
    }
}

/// A limit reached by a [`Metered`] layer. It travels up as the `io::Error` its read returns,
/// and is told apart from corruption by [`Trip::of`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trip {
    /// The input's total expansion.
    Expanded { max_expanded: u64 },
    /// This layer's ratio.
    Ratio {
        produced: u64,
        consumed: u64,
        max_ratio: u64,
    },
}

impl Trip {
    /// The trip carried by `error`, if it is one.
    pub(crate) fn of(error: &io::Error) -> Option<Trip> {
        error.get_ref()?.downcast_ref::<Trip>().copied()
    }

    /// The problem to report for a trip in a layer of `kind`.
    pub(crate) fn problem(self, kind: Kind) -> Problem {
        match self {
            Trip::Expanded { max_expanded } => Problem::ExpandedLimit { max_expanded },
            Trip::Ratio {
                produced,
                consumed,
                max_ratio,
            } => Problem::RatioLimit {
                kind,
                produced,
                consumed,
                max_ratio,
            },
        }
    }
}

impl fmt::Display for Trip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trip::Expanded { max_expanded } => write!(f, "expansion limit of {max_expanded}"),
            Trip::Ratio { max_ratio, .. } => write!(f, "ratio limit of {max_ratio}"),
        }
    }
}

impl std::error::Error for Trip {}

/// A reader that adds the bytes read through it to a shared count: the compressed bytes a
/// layer consumed.
pub(crate) struct Counted<'c, R> {
    inner: R,
    count: &'c Cell<u64>,
}

impl<'c, R> Counted<'c, R> {
    pub(crate) fn new(inner: R, count: &'c Cell<u64>) -> Self {
        Counted { inner, count }
    }
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get().saturating_add(n as u64));
        Ok(n)
    }
}

impl<R: Seek> Seek for Counted<'_, R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.inner.seek(to)
    }
}

/// The output of one decompressing layer, counted against the input's total and the layer's
/// ratio. A read that crosses a limit is shortened to end exactly at it; the next one fails
/// with the [`Trip`].
pub(crate) struct Metered<'b, R> {
    inner: R,
    budget: &'b Budget,
    /// The compressed bytes read by the layer are `consumed - consumed_base`.
    consumed: &'b Cell<u64>,
    consumed_base: u64,
    produced: u64,
    tripped: Option<Trip>,
}

impl<'b, R> Metered<'b, R> {
    /// Meters `inner`, whose compressed input is what `consumed` counts past `consumed_base`.
    /// The base is taken before the decoder is made: some read ahead as they are made.
    pub(crate) fn new(
        inner: R,
        budget: &'b Budget,
        consumed: &'b Cell<u64>,
        consumed_base: u64,
    ) -> Self {
        Metered {
            inner,
            budget,
            consumed,
            consumed_base,
            produced: 0,
            tripped: None,
        }
    }

    fn consumed(&self) -> u64 {
        self.consumed.get().saturating_sub(self.consumed_base)
    }
}

impl<R: Read> Read for Metered<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(trip) = self.tripped {
            return Err(io::Error::other(trip));
        }
        // Another layer reached the total: this one just ends (that layer reports it).
        if self.budget.stopped() || buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            return Ok(0);
        }
        let budget = self.budget;
        let ratio_room = self
            .consumed()
            .saturating_mul(budget.max_ratio)
            .max(budget.ratio_grace)
            .saturating_sub(self.produced);
        let total_room = budget.max_expanded.saturating_sub(budget.expanded.get());
        let allowed = (n as u64).min(ratio_room).min(total_room);
        let allowed = usize::try_from(allowed).unwrap_or(n);
        self.produced = self.produced.saturating_add(allowed as u64);
        budget
            .expanded
            .set(budget.expanded.get().saturating_add(allowed as u64));
        if allowed < n {
            let trip = if total_room <= ratio_room {
                budget.stopped.set(true);
                Trip::Expanded {
                    max_expanded: budget.max_expanded,
                }
            } else {
                Trip::Ratio {
                    produced: self.produced,
                    consumed: self.consumed(),
                    max_ratio: budget.max_ratio,
                }
            };
            self.tripped = Some(trip);
            if allowed == 0 {
                return Err(io::Error::other(trip));
            }
        }
        Ok(allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_expanded: u64, max_ratio: u64, ratio_grace: u64) -> Limits {
        Limits {
            max_expanded,
            max_ratio,
            ratio_grace,
            ..Limits::default()
        }
    }

    /// A budget for `limits`, with a pool of its own.
    fn budget(limits: &Limits) -> Budget {
        Budget::new(limits, Arc::new(BufferPool::for_limits(limits)))
    }

    /// Reads `meter` to its end or error: the bytes read, and the trip.
    fn drain(meter: &mut impl Read) -> (u64, Option<Trip>) {
        let mut total = 0u64;
        let mut buf = [0u8; 1000];
        loop {
            match meter.read(&mut buf) {
                Ok(0) => return (total, None),
                Ok(n) => total += n as u64,
                Err(e) => return (total, Trip::of(&e)),
            }
        }
    }

    #[test]
    fn the_total_ends_a_layer_exactly_at_the_limit() {
        let budget = budget(&limits(2500, 1000, 1 << 20));
        let consumed = Cell::new(0);
        let mut meter = Metered::new(io::repeat(0), &budget, &consumed, 0);
        let (read, trip) = drain(&mut meter);
        assert_eq!(read, 2500);
        assert_eq!(trip, Some(Trip::Expanded { max_expanded: 2500 }));
        assert!(budget.stopped());
        assert_eq!(budget.expanded(), 2500);
    }

    /// A stand-in decoder: 1000 zero bytes out for each byte in.
    struct Expander<R> {
        input: R,
        left: usize,
    }

    impl<R: Read> Read for Expander<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.left == 0 {
                if self.input.read(&mut [0u8; 1])? == 0 {
                    return Ok(0);
                }
                self.left = 1000;
            }
            let n = buf.len().min(self.left);
            buf[..n].fill(0);
            self.left -= n;
            Ok(n)
        }
    }

    #[test]
    fn the_ratio_applies_after_the_grace() {
        let budget = budget(&limits(1 << 30, 10, 5000));
        // 100 bytes were read before the layer started: they are not its input.
        let consumed = Cell::new(100);
        let input = Counted::new(io::repeat(0).take(300), &consumed);
        let mut meter = Metered::new(Expander { input, left: 0 }, &budget, &consumed, 100);
        let (read, trip) = drain(&mut meter);
        assert_eq!(read, 5000);
        assert_eq!(
            trip,
            Some(Trip::Ratio {
                produced: 5000,
                consumed: 6,
                max_ratio: 10
            })
        );
        assert!(!budget.stopped());
        assert_eq!(budget.expanded(), 5000);
    }
}
