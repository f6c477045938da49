//! Progress on standard error while a disk is scanned.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar while the disk is swept.
const BYTES: &str = "{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}";
/// The bar while the file pass reads files.
const FILES: &str = "{prefix} files [{bar:30}] {pos}/{len} ETA {eta}";

/// A bar style from a template.
fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("the template is valid")
        .progress_chars("=> ")
}

/// A progress bar for one disk: bytes done, rate and ETA, drawn only when standard error is a
/// terminal and `--quiet` is off; otherwise every method does nothing.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar for scanning `image`; its length is set by [`Progress::start`].
    pub fn new(image: &str, quiet: bool) -> Progress {
        let bar = if quiet || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(style(BYTES));
            bar.set_prefix(image.to_owned());
            bar
        };
        Progress { bar }
    }

    /// The file pass begins: it will read `total` files.
    pub fn start_files(&self, total: u64) {
        self.bar.set_style(style(FILES));
        self.bar.set_position(0);
        self.bar.set_length(total);
    }

    /// The sweep begins: the bar counts bytes again (its length is set by `start`).
    pub fn start_bytes(&self) {
        self.bar.set_style(style(BYTES));
        self.bar.set_position(0);
    }

    /// The scan will read `total` bytes.
    pub fn start(&self, total: u64) {
        self.bar.set_length(total);
    }

    /// `done` bytes are scanned.
    pub fn set(&self, done: u64) {
        self.bar.set_position(done);
    }

    /// Runs `write` with the bar cleared, so printed findings and the bar do not mix.
    pub fn suspend<R>(&self, write: impl FnOnce() -> R) -> R {
        self.bar.suspend(write)
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
