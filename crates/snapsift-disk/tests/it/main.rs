//! The integration tests of snapsift-disk, one test binary: each module is one container
//! format (or one concern across formats), read against `qemu-img convert -O raw`.

mod common;
mod huge_sizes;
mod ova;
mod qcow2;
mod qcow2_hostile;
mod references;
mod vhd;
mod vhdx;
mod vmdk;
