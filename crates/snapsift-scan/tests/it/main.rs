//! The integration tests of snapsift-scan, one test binary in the layout every crate uses.

mod scan;
