//! The built-in rule set over arbitrary bytes, as one chunk: fails on an input that makes the
//! matcher's regexes read more than a bounded number of bytes per input byte, so that slow
//! inputs are caught by counting, whatever the machine's speed (libFuzzer's `-timeout`
//! catches the rest). Inputs are read as written and, through the matcher's UTF-16LE pass,
//! as wide text.
#![no_main]

use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use snapsift_match::{Matcher, RuleSet, Scratch};

/// The most bytes the confirmation automata may read per input byte. Every hit costs about
/// its rule's header before its run meets the previous one, and every match is read again for
/// its secret group; bytes made to repeat anchors measure about 10 (`cargo xtask
/// bench-worstcase`), against hundreds to tens of thousands before runs shared their work.
const WORK_PER_BYTE: u64 = 64;

/// Allowance for short inputs, whose few hits may each read a rule's whole reach.
const WORK_ALLOWANCE: u64 = 4 * snapsift_match::MAX_RULE_LEN as u64;

fuzz_target!(|data: &[u8]| {
    static MATCHER: OnceLock<Matcher> = OnceLock::new();
    let matcher = MATCHER.get_or_init(|| {
        Matcher::new(&RuleSet::builtin().expect("the built-in rules load"))
            .expect("the built-in rules compile")
    });
    // One scratch for every input, as a scanning thread keeps one: making one per input
    // would cost more than searching most inputs.
    static SCRATCH: Mutex<Option<Scratch>> = Mutex::new(None);
    let mut guard = SCRATCH.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = guard.get_or_insert_with(|| matcher.scratch());
    let before = scratch.confirmation_work();
    let mut out = Vec::new();
    matcher.find_in(data, 0..data.len(), scratch, &mut out);
    let work = scratch.confirmation_work() - before;
    let bound = WORK_PER_BYTE
        .saturating_mul(data.len() as u64)
        .saturating_add(WORK_ALLOWANCE);
    assert!(
        work <= bound,
        "the regexes read {work} bytes for {} input bytes ({:.1} per byte)",
        data.len(),
        work as f64 / data.len().max(1) as f64
    );
});
