//! The integration tests of snapsift-unpack, one test binary: each module is one subject.

mod common;
mod damage;
mod detection;
mod java;
mod limits;
mod streams;
mod tar;
mod zip;
