//! The walk: sniff each piece of content, expand it if it is a container, hand it to the
//! visitor if it is a leaf, and report what went wrong on the way.

use std::io::{self, Read};

use crate::budget::{Budget, Trip};
use crate::fuse::{Fault, Faults, Fused};
use crate::peek::Peeked;
use crate::source::{Source, Window};
use crate::{
    Kind, Layer, Leaf, LeafEncoding, Limits, Problem, SNIFF_LEN, Summary, UnpackError, Visitor,
    sniff,
};

/// The error that ends a walk.
pub(crate) type Fatal<V> = UnpackError<<V as Visitor>::Error>;

/// A piece of content to walk.
pub(crate) enum Body<'a> {
    /// Bytes read in place from a source (the root, or a zip held in memory): stored
    /// verbatim by every layer above.
    Ranged {
        window: Window<'a>,
        /// The CRC-32 its zip declares, checked if the content is a leaf read to its end.
        crc32: Option<u32>,
    },
    /// Bytes coming out of a layer that cannot seek. It never fails: the layer's errors end
    /// it and are reported by the layer.
    Stream {
        reader: &'a mut dyn Read,
        /// The length the container declares, if it does.
        len: Option<u64>,
    },
}

/// Content whose head has been sniffed, ready for the layer that expands it.
pub(crate) enum Input<'a> {
    /// See [`Body::Ranged`].
    Ranged(Window<'a>),
    /// See [`Body::Stream`]; the head is read again from the [`Peeked`].
    Stream(Peeked<'a>, Option<u64>),
}

impl Input<'_> {
    /// The content as a reader, from its start.
    pub(crate) fn reader(&mut self) -> &mut dyn Read {
        match self {
            Input::Ranged(window) => window,
            Input::Stream(peeked, _) => peeked,
        }
    }
}

/// The state of one [`crate::unpack`] call.
pub(crate) struct Walker<'w, V: Visitor + ?Sized> {
    visitor: &'w mut V,
    pub(crate) limits: &'w Limits,
    pub(crate) budget: &'w Budget,
    pub(crate) faults: &'w Faults,
    root: &'w dyn Source,
    /// The layers above the content being walked.
    chain: Vec<Layer>,
    leaves: u64,
    problems: u64,
}

impl<'w, V: Visitor + ?Sized> Walker<'w, V> {
    pub(crate) fn new(
        root: &'w dyn Source,
        limits: &'w Limits,
        budget: &'w Budget,
        faults: &'w Faults,
        visitor: &'w mut V,
    ) -> Self {
        Walker {
            visitor,
            limits,
            budget,
            faults,
            root,
            chain: Vec::new(),
            leaves: 0,
            problems: 0,
        }
    }

    /// The summary of the walk.
    pub(crate) fn finish(self) -> Summary {
        Summary {
            leaves: self.leaves,
            expanded: self.budget.expanded(),
            problems: self.problems,
        }
    }

    /// Fails if reading the root failed: whatever that made look corrupt is the caller's I/O
    /// error, not a problem of the content.
    pub(crate) fn check_root(&self) -> Result<(), Fatal<V>> {
        match self.root.take_failure() {
            Some((offset, source)) => Err(UnpackError::Read { offset, source }),
            None => Ok(()),
        }
    }

    /// Runs `walk` with `layer` on the chain.
    pub(crate) fn within<T>(
        &mut self,
        layer: Layer,
        walk: impl FnOnce(&mut Self) -> Result<T, Fatal<V>>,
    ) -> Result<T, Fatal<V>> {
        self.chain.push(layer);
        let result = walk(self);
        self.chain.pop();
        result
    }

    /// Reports `problem` for the current chain.
    pub(crate) fn problem(&mut self, problem: Problem) -> Result<(), Fatal<V>> {
        self.check_root()?;
        // Past the expansion budget every layer ends early: that one problem says why.
        if self.budget.stopped() && !matches!(problem, Problem::ExpandedLimit { .. }) {
            return Ok(());
        }
        self.problems = self.problems.saturating_add(1);
        self.visitor
            .problem(&self.chain, &problem)
            .map_err(UnpackError::Visitor)
    }

    /// Reports how a layer of `kind` failed, if it did: a limit it reached, or corruption
    /// unless an enclosing layer's failure explains it.
    pub(crate) fn fault(&mut self, kind: Kind, fault: Option<Fault>) -> Result<(), Fatal<V>> {
        self.check_root()?;
        let Some(Fault { error, upstream }) = fault else {
            return Ok(());
        };
        if let Some(trip) = Trip::of(&error) {
            return self.problem(trip.problem());
        }
        if upstream {
            return Ok(());
        }
        self.problem(Problem::Corrupt {
            kind,
            detail: describe(&error),
        })
    }

    /// Reports an error from content that fails only through the root (checked before this):
    /// windows on a source, and streams whose layers end at their own errors. Should one fail
    /// all the same, it is not kept quiet.
    fn stray(&mut self, error: io::Error) -> Result<(), Fatal<V>> {
        match self.chain.last() {
            Some(layer) => {
                let kind = layer.kind;
                self.problem(Problem::Corrupt {
                    kind,
                    detail: describe(&error),
                })
            }
            // The root's own content is read from the root.
            None => Err(UnpackError::Read {
                offset: 0,
                source: error,
            }),
        }
    }

    /// Walks one piece of content.
    pub(crate) fn node(&mut self, body: Body<'_>) -> Result<(), Fatal<V>> {
        if self.budget.stopped() {
            return Ok(());
        }
        match body {
            Body::Ranged { window, crc32 } => {
                let mut head = [0u8; SNIFF_LEN];
                let n = match window.read_full_at(0, &mut head) {
                    Ok(n) => n,
                    Err(error) => {
                        self.check_root()?;
                        return self.stray(error);
                    }
                };
                match sniff(head.get(..n).unwrap_or_default()) {
                    Some(kind) => self.expand(kind, Input::Ranged(window)),
                    None => {
                        let (origin, len) = (window.origin(), Some(window.len()));
                        self.leaf(&mut window.clone(), origin, len, LeafEncoding::Bytes, crc32)
                    }
                }
            }
            Body::Stream { reader, len } => {
                let peeked = match Peeked::new(reader) {
                    Ok(peeked) => peeked,
                    Err(error) => {
                        self.check_root()?;
                        return self.stray(error);
                    }
                };
                match sniff(peeked.head()) {
                    Some(kind) => self.expand(kind, Input::Stream(peeked, len)),
                    None => self.leaf_input(Input::Stream(peeked, len), LeafEncoding::Bytes),
                }
            }
        }
    }

    /// Expands content sniffed as `kind`, or visits it as it is if the chain is already as
    /// deep as allowed.
    fn expand(&mut self, kind: Kind, mut input: Input<'_>) -> Result<(), Fatal<V>> {
        let max_depth = self.limits.max_depth;
        if self.chain.len() >= usize::try_from(max_depth).unwrap_or(usize::MAX) {
            self.leaf_input(input, LeafEncoding::Bytes)?;
            return self.problem(Problem::TooDeep { kind, max_depth });
        }
        match kind {
            Kind::Gzip | Kind::Zstd | Kind::Xz | Kind::Bzip2 => self.stream(kind, input.reader()),
            Kind::Tar => self.tar(input),
            Kind::Zip => self.zip(input),
            Kind::Utf16Le | Kind::Utf16Be => self.utf16(kind, input),
        }
    }

    /// Visits `input` as one leaf.
    pub(crate) fn leaf_input(
        &mut self,
        input: Input<'_>,
        encoding: LeafEncoding,
    ) -> Result<(), Fatal<V>> {
        match input {
            Input::Ranged(mut window) => {
                let (origin, len) = (window.origin(), Some(window.len()));
                self.leaf(&mut window, origin, len, encoding, None)
            }
            Input::Stream(mut peeked, len) => self.leaf(&mut peeked, None, len, encoding, None),
        }
    }

    /// Hands one leaf to the visitor. If `crc32` is given and the visitor read the whole
    /// declared length, the content is checked against it.
    pub(crate) fn leaf(
        &mut self,
        content: &mut dyn Read,
        origin: Option<u64>,
        len: Option<u64>,
        encoding: LeafEncoding,
        crc32: Option<u32>,
    ) -> Result<(), Fatal<V>> {
        let mut content = Checked {
            inner: Fused::new(content, self.faults),
            read: 0,
            crc: crc32.map(|_| crc32fast::Hasher::new()),
        };
        let leaf = Leaf {
            chain: &self.chain,
            origin,
            len,
            encoding,
        };
        let visited = self.visitor.leaf(&leaf, &mut content);
        self.check_root()?;
        visited.map_err(UnpackError::Visitor)?;
        self.leaves = self.leaves.saturating_add(1);
        let Checked { inner, read, crc } = content;
        if let Some(fault) = inner.finish() {
            return self.stray(fault.error);
        }
        if let (Some(expected), Some(hasher), Some(len)) = (crc32, crc, len)
            && read == len
        {
            let actual = hasher.finalize();
            if actual != expected {
                return self.problem(Problem::Corrupt {
                    kind: Kind::Zip,
                    detail: format!(
                        "CRC-32 of the stored member is {actual:08x}, its header says \
                         {expected:08x}"
                    ),
                });
            }
        }
        Ok(())
    }
}

/// A leaf's content as the visitor reads it: counted, and hashed when there is a CRC to check.
struct Checked<'f, R> {
    inner: Fused<'f, R>,
    read: u64,
    crc: Option<crc32fast::Hasher>,
}

impl<R: Read> Read for Checked<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read = self.read.saturating_add(n as u64);
        if let Some(crc) = &mut self.crc {
            crc.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// A decoder's error in words: its message, or that the data ended early.
pub(crate) fn describe(error: &io::Error) -> String {
    if error.kind() == io::ErrorKind::UnexpectedEof {
        let message = error.to_string();
        if message.is_empty() || message == "unexpected end of file" {
            return "the data ends early (truncated)".into();
        }
        return format!("the data ends early (truncated): {message}");
    }
    error.to_string()
}
