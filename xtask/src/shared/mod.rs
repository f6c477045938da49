//! What the tasks share: the workspace's paths and tool runner, disk images built with the real
//! tools, the seeded generator and everything generated from it (secrets, keys, log text), the
//! rules restated as plain regexes, finding planted secrets on an image, the committed sample
//! disk, and scanning an image to a table of its findings.
//!
//! Nothing here is a task of its own; each task (`cargo xtask NAME`) lives in its own module
//! of the crate root.

pub mod filesystem;
pub mod findings;
pub mod image;
pub mod keys;
pub mod locate;
pub mod loop_device;
pub mod rng;
pub mod rules;
pub mod sample_disk;
pub mod secrets;
pub mod text;
pub mod workspace;
