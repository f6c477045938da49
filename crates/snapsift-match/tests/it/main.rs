//! The integration tests of snapsift-match, one test binary: each module is one subject.

mod builtin_rules;
mod case;
mod common;
mod confirmation;
mod dense;
mod matching;
mod overlap_contract;
mod truncated;
mod weak_secrets;
