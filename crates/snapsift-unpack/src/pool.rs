//! [`BufferPool`]: the memory for nested zips, shared by unpack calls that run at once.

use std::sync::{Condvar, Mutex, PoisonError};

/// Memory that zips nested in layers that cannot seek may be held in, shared by every
/// [`crate::unpack_with_pool`] call given the same pool, on any thread.
///
/// [`crate::Limits::max_buffered`] bounds one call; a file pass expanding one file per
/// thread would otherwise hold that much per thread, so that its memory grew with the number
/// of cores. With one pool, all of them together hold at most its capacity.
///
/// A call that holds nothing yet and needs room waits until the pool can give it all the
/// room its own limit allows (a pool as large as that limit then serves one such call at a
/// time), so that what is expanded does not depend on what other threads happen to hold:
/// the result is the one a single thread would give. A call that already holds memory never
/// waits (it takes what is left), so waiting cannot deadlock: whoever is waited for holds
/// memory and is not waiting.
#[derive(Debug)]
pub struct BufferPool {
    capacity: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

impl BufferPool {
    /// A pool of `capacity` bytes.
    pub fn new(capacity: u64) -> Self {
        BufferPool {
            capacity,
            used: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// A pool for calls with these `limits`: [`crate::Limits::max_buffered`], plus the one
    /// byte more a call reads to tell a zip that fills its room from one that is larger.
    pub fn for_limits(limits: &crate::Limits) -> Self {
        BufferPool::new(limits.max_buffered.saturating_add(1))
    }

    /// The pool's capacity in bytes.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Bytes held now, by all the calls sharing the pool.
    pub fn used(&self) -> u64 {
        *self.used.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes up to `want` bytes, first waiting, if `wait`, until `want` bytes (or the whole
    /// capacity) are free; returns how many were taken.
    pub(crate) fn take(&self, want: u64, wait: bool) -> u64 {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        let needed = want.min(self.capacity);
        while wait && self.capacity.saturating_sub(*used) < needed {
            used = self
                .freed
                .wait(used)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let taken = want.min(self.capacity.saturating_sub(*used));
        *used = used.saturating_add(taken);
        taken
    }

    /// Gives back `n` bytes [`BufferPool::take`] took.
    pub(crate) fn give(&self, n: u64) {
        if n == 0 {
            return;
        }
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        *used = used.saturating_sub(n);
        self.freed.notify_all();
    }
}
