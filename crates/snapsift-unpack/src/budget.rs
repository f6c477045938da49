//! What decompression may produce (the input's expansion budget) and the memory held for
//! nested zips; and the readers that count against them.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

use crate::{BufferPool, Limits, Problem};

/// The limits of one [`crate::unpack`] call and what has been spent against them.
pub(crate) struct Budget {
    /// What decompression may produce from this input ([`Limits::expansion_budget`]).
    expansion: u64,
    max_buffered: u64,
    expanded: Cell<u64>,
    /// What this call holds for nested zips, also taken from `pool`.
    buffered: Cell<u64>,
    /// The memory for nested zips this call shares with others.
    pool: Arc<BufferPool>,
    /// Set when the expansion budget is spent: from then on every layer ends and nothing
    /// more is visited or reported.
    stopped: Cell<bool>,
}

impl Budget {
    /// The budget of an input of `input_len` bytes.
    pub(crate) fn new(limits: &Limits, input_len: u64, pool: Arc<BufferPool>) -> Self {
        Budget {
            expansion: limits.expansion_budget(input_len),
            max_buffered: limits.max_buffered,
            expanded: Cell::new(0),
            buffered: Cell::new(0),
            pool,
            stopped: Cell::new(false),
        }
    }

    /// Whether the expansion budget is spent.
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

/// The expansion budget, spent by a [`Metered`] layer. It travels up as the `io::Error` its
/// read returns, and is told apart from corruption by [`Trip::of`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Trip {
    /// The input's expansion budget.
    pub(crate) budget: u64,
}

impl Trip {
    /// The trip carried by `error`, if it is one.
    pub(crate) fn of(error: &io::Error) -> Option<Trip> {
        error.get_ref()?.downcast_ref::<Trip>().copied()
    }

    /// The problem to report.
    pub(crate) fn problem(self) -> Problem {
        Problem::ExpandedLimit {
            budget: self.budget,
        }
    }
}

impl fmt::Display for Trip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expansion budget of {} bytes", self.budget)
    }
}

impl std::error::Error for Trip {}

/// A reader that adds the bytes read through it to a shared count.
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

/// The output of one decompressing layer, counted against the input's expansion budget. A
/// read that crosses it is shortened to end exactly at it; the next one fails with the
/// [`Trip`].
pub(crate) struct Metered<'b, R> {
    inner: R,
    budget: &'b Budget,
    tripped: Option<Trip>,
}

impl<'b, R> Metered<'b, R> {
    /// Meters `inner`, a decoder's output.
    pub(crate) fn new(inner: R, budget: &'b Budget) -> Self {
        Metered {
            inner,
            budget,
            tripped: None,
        }
    }
}

impl<R: Read> Read for Metered<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(trip) = self.tripped {
            return Err(io::Error::other(trip));
        }
        // Another layer spent the budget: this one just ends (that layer reports it).
        if self.budget.stopped() || buf.is_empty() {
            return Ok(0);
        }
        let budget = self.budget;
        let room = budget.expansion.saturating_sub(budget.expanded.get());
        // Never ask the decoder for more than the room left (and one byte, to see whether it
        // has more): bytes decoded past the budget would be decoded for nothing.
        let want = usize::try_from(room.saturating_add(1))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Ok(0);
        }
        let allowed = (n as u64).min(room);
        let allowed = usize::try_from(allowed).unwrap_or(n);
        budget
            .expanded
            .set(budget.expanded.get().saturating_add(allowed as u64));
        if allowed < n {
            budget.stopped.set(true);
            let trip = Trip {
                budget: budget.expansion,
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

    fn limits(max_expanded: u64, expansion_ratio: u64, expansion_floor: u64) -> Limits {
        Limits {
            max_expanded,
            expansion_ratio,
            expansion_floor,
            ..Limits::default()
        }
    }

    /// A budget for an input of `input_len` bytes under `limits`, with a pool of its own.
    fn budget(limits: &Limits, input_len: u64) -> Budget {
        Budget::new(limits, input_len, Arc::new(BufferPool::for_limits(limits)))
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
    fn the_budget_is_the_ratio_between_the_floor_and_the_cap() {
        let limits = limits(1 << 30, 200, 128 << 20);
        assert_eq!(limits.expansion_budget(0), 128 << 20);
        assert_eq!(limits.expansion_budget(1 << 20), 200 << 20);
        assert_eq!(limits.expansion_budget(1 << 40), 1 << 30);
        assert_eq!(limits.expansion_budget(u64::MAX), 1 << 30);
    }

    #[test]
    fn the_budget_ends_a_layer_exactly_where_it_is_spent() {
        let budget = budget(&limits(1 << 30, 10, 2500), 100);
        let mut meter = Metered::new(io::repeat(0), &budget);
        let (read, trip) = drain(&mut meter);
        assert_eq!(read, 2500);
        assert_eq!(trip, Some(Trip { budget: 2500 }));
        assert!(budget.stopped());
        assert_eq!(budget.expanded(), 2500);
        // A second layer of the same input gets nothing more, and says nothing.
        let mut other = Metered::new(io::repeat(1), &budget);
        assert_eq!(drain(&mut other), (0, None));
    }

    #[test]
    fn a_layer_that_ends_at_the_budget_is_not_cut() {
        let budget = budget(&limits(1 << 30, 10, 2500), 100);
        let mut meter = Metered::new(io::repeat(7).take(2500), &budget);
        assert_eq!(drain(&mut meter), (2500, None));
        assert!(!budget.stopped());
    }

    /// Counts what a decoder was asked for.
    struct Asked<R> {
        inner: R,
        asked: u64,
    }

    impl<R: Read> Read for Asked<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.asked += buf.len() as u64;
            self.inner.read(buf)
        }
    }

    #[test]
    fn the_decoder_is_never_asked_for_more_than_the_room_left() {
        let budget = budget(&limits(1 << 30, 1, 2500), 100);
        let mut meter = Metered::new(
            Asked {
                inner: io::repeat(0),
                asked: 0,
            },
            &budget,
        );
        let (read, _) = drain(&mut meter);
        assert_eq!(read, 2500);
        assert!(meter.inner.asked <= 2501, "{}", meter.inner.asked);
    }
}
