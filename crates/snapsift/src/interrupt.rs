//! SIGINT and SIGTERM while a report is being written: the temporary files of the reports
//! being written are removed, so that the previous reports stay as they were, and the process
//! exits with the conventional status, 128 + the signal's number (130, 143).
//!
//! Until a temporary file exists the signals keep their default action (the process ends at
//! once: there is nothing to clean up).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// The temporary files to remove if the run is interrupted.
static TEMPORARY: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Whether the signal thread runs (or why it could not start).
static HANDLER: OnceLock<Result<(), String>> = OnceLock::new();

fn temporary() -> MutexGuard<'static, Vec<PathBuf>> {
    TEMPORARY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts, once, the thread that waits for SIGINT and SIGTERM.
fn handle_signals() -> io::Result<()> {
    HANDLER
        .get_or_init(|| {
            let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(|e| e.to_string())?;
            std::thread::Builder::new()
                .name("signals".into())
                .spawn(move || {
                    if let Some(signal) = signals.forever().next() {
                        // The lock is held to the end: no temporary file is made or renamed
                        // into place meanwhile.
                        let files = temporary();
                        for file in files.iter() {
                            let _ = std::fs::remove_file(file);
                        }
                        std::process::exit(128 + signal);
                    }
                })
                .map(drop)
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| io::Error::other(format!("cannot catch SIGINT and SIGTERM: {e}")))
}

/// Creates a temporary file with `create`, which returns it and its path, removed if the
/// run is interrupted from then on.
pub fn create_temporary(
    create: impl FnOnce() -> io::Result<(File, PathBuf)>,
) -> io::Result<(File, PathBuf)> {
    handle_signals()?;
    // Locked from before the file exists until it is listed: a signal in between would
    // otherwise leave it behind.
    let mut files = temporary();
    let (file, path) = create()?;
    files.push(path.clone());
    Ok((file, path))
}

/// Runs `finish` (which renames the temporary file `path` into place) with no signal handled
/// meanwhile; then `path` is no longer removed on a signal.
pub fn keep(path: &Path, finish: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
    let mut files = temporary();
    finish()?;
    files.retain(|f| f != path);
    Ok(())
}

/// Removes the temporary file `path`: the report it was to become is not written.
pub fn discard(path: &Path) {
    let mut files = temporary();
    let _ = std::fs::remove_file(path);
    files.retain(|f| f != path);
}
