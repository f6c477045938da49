//! [`WindowScanner`]: one thread's matcher state, turning a window of bytes into findings.

use std::ops::Range;

use snapsift_match::{Encoding, Match, Matcher, Scratch};

use crate::Finding;
use crate::finding::{CONTEXT_RADIUS, Context};

/// Windows extend this far beyond their owned range on each side: the matcher's context
/// (longest match and look-around) plus the finding's context line (twice as many bytes for
/// UTF-16LE text), rounded up to whole pages so
/// that windows of page-aligned chunks stay page-aligned for direct device reads.
pub(crate) fn overlap(matcher: &Matcher) -> u64 {
    const PAGE: u64 = 4096;
    let needed = u64::try_from(
        matcher
            .context_len()
            .saturating_add(CONTEXT_RADIUS.saturating_mul(2)),
    )
    .unwrap_or(u64::MAX);
    needed.div_ceil(PAGE).saturating_mul(PAGE)
}

/// A scanning thread's matcher scratch and match buffer.
pub(crate) struct WindowScanner<'m> {
    matcher: &'m Matcher,
    scratch: Scratch,
    matches: Vec<Match>,
}

impl<'m> WindowScanner<'m> {
    pub(crate) fn new(matcher: &'m Matcher) -> Self {
        WindowScanner {
            matcher,
            scratch: matcher.scratch(),
            matches: Vec::new(),
        }
    }

    /// The findings that start in `owned` of `window`, whose first byte is at disk offset
    /// `window_start`. The window must hold [`overlap`] bytes around `owned` (or reach the
    /// disk's edge).
    pub(crate) fn scan(
        &mut self,
        window: &[u8],
        window_start: u64,
        owned: Range<usize>,
    ) -> Vec<Finding<'m>> {
        self.matches.clear();
        self.matcher
            .find_in(window, owned, &mut self.scratch, &mut self.matches);
        let rules = self.matcher.rules();
        self.matches
            .iter()
            .map(|m| Finding {
                rule: &rules[m.rule],
                // A match lies within the window, itself within the disk.
                offset: window_start.saturating_add(m.start as u64),
                encoding: m.encoding,
                text: self.matcher.text_of(window, m).into_owned(),
                secret: m.secret_in_text(),
                context: match m.encoding {
                    Encoding::Utf8 => Context::around(window, m.start..m.end),
                    Encoding::Utf16Le => Context::around_utf16(window, m.start..m.end),
                }
                .focus(m.secret_in_text()),
            })
            .collect()
    }
}
