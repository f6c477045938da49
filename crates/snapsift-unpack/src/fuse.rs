//! Turning a layer's read error into the end of its content, kept to be reported once the
//! content has been visited.

use std::cell::Cell;
use std::io::{self, Read};

/// How many [`Fused`] readers hold an error not yet reported. Layers nest, so while a layer's
/// content is being read, the others counted here are the layers around it: when one of them
/// failed, the inner layer's own failure (its input ended early) is a consequence, not news.
#[derive(Default)]
pub(crate) struct Faults {
    open: Cell<u32>,
}

impl Faults {
    /// Whether an enclosing layer has failed.
    pub(crate) fn any_open(&self) -> bool {
        self.open.get() > 0
    }
}

/// A layer's output that ends at its first error instead of returning it, so that the reader
/// above (a visitor, a tar parser) sees content that ends early. [`Fused::finish`] hands the
/// error over.
pub(crate) struct Fused<'f, R> {
    inner: R,
    faults: &'f Faults,
    fault: Option<io::Error>,
}

/// A layer's failure, from [`Fused::finish`].
pub(crate) struct Fault {
    /// What the layer's reader returned.
    pub(crate) error: io::Error,
    /// Whether an enclosing layer had failed too (and so probably caused this).
    pub(crate) upstream: bool,
}

impl<'f, R> Fused<'f, R> {
    pub(crate) fn new(inner: R, faults: &'f Faults) -> Self {
        Fused {
            inner,
            faults,
            fault: None,
        }
    }

    /// The error that ended the content, if one did.
    pub(crate) fn finish(mut self) -> Option<Fault> {
        let error = self.fault.take()?;
        let open = self.faults.open.get().saturating_sub(1);
        self.faults.open.set(open);
        Some(Fault {
            error,
            upstream: open > 0,
        })
    }
}

impl<R: Read> Read for Fused<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.fault.is_some() {
            return Ok(0);
        }
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.faults
                        .open
                        .set(self.faults.open.get().saturating_add(1));
                    self.fault = Some(e);
                    return Ok(0);
                }
                Ok(n) => return Ok(n),
            }
        }
    }
}

impl<R> Drop for Fused<'_, R> {
    /// A fused reader dropped without [`Fused::finish`] (a fatal error unwinding the walk)
    /// must not leave its fault counted.
    fn drop(&mut self) {
        if self.fault.take().is_some() {
            self.faults
                .open
                .set(self.faults.open.get().saturating_sub(1));
        }
    }
}
