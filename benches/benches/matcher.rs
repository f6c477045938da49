//! Single-thread throughput of `Matcher::find_in` on kinds of bytes a disk holds.
//!
//! `cargo bench -p snapsift-benches` prints MB/s per corpus. The end-to-end benchmark (a dense
//! disk image, compared with a plain read and with ripgrep) is `cargo xtask bench`; this one
//! isolates the matcher so a change to rules or anchors shows its cost directly.

#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use snapsift_match::{Confirmation, Matcher, RuleSet};

const CORPUS_LEN: usize = 64 << 20;

/// A fast deterministic byte generator (xorshift64*).
struct Bytes(u64);

impl Bytes {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn random(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| (self.next() >> 56) as u8).collect()
    }

    /// Log-like text: words, URLs, base64 tokens and the odd near-miss of a rule's anchor.
    fn text(&mut self, len: usize) -> Vec<u8> {
        const WORDS: &[&str] = &[
            "GET",
            "POST",
            "https://api.example.com/v1/items?id=",
            "user",
            "session",
            "postgres",
            "mysql",
            "redis",
            "monitor",
            "position",
            "-----",
            "BEGIN",
            "KEY",
            "AKIA",
            "LTAI",
            "200",
            "404",
            "2026-11-23T10:00:00Z",
            "INFO",
            "ERROR",
            "\n",
        ];
        const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let r = self.next();
            if r.is_multiple_of(7) {
                let n = 20 + (r >> 8) as usize % 60;
                out.extend((0..n).map(|_| B64[(self.next() >> 58) as usize]));
            } else {
                out.extend_from_slice(WORDS[(r >> 8) as usize % WORDS.len()].as_bytes());
            }
            out.push(b' ');
        }
        out.truncate(len);
        out
    }
}

fn measure(matcher: &Matcher, name: &str, corpus: &[u8]) {
    let mut scratch = matcher.scratch();
    let mut out = Vec::new();
    let mut best = Duration::MAX;
    for _ in 0..5 {
        out.clear();
        let start = Instant::now();
        matcher.find_in(black_box(corpus), 0..corpus.len(), &mut scratch, &mut out);
        best = best.min(start.elapsed());
    }
    let mbps = corpus.len() as f64 / best.as_secs_f64() / 1e6;
    println!("{name:<26} {mbps:>8.0} MB/s  ({} matches)", out.len());
}

fn main() {
    let matcher = Matcher::new(&RuleSet::builtin().expect("built-in rules load"))
        .expect("built-in rules compile");
    let mut bytes = Bytes(0x5eed);
    println!(
        "matcher, one thread, best of 5 over {} MiB:",
        CORPUS_LEN >> 20
    );
    measure(&matcher, "zeros", &vec![0u8; CORPUS_LEN]);
    measure(&matcher, "random", &bytes.random(CORPUS_LEN));
    let text = bytes.text(CORPUS_LEN);
    measure(&matcher, "text", &text);
    // The plain confirmation (each hit's regex alone): what sharing runs costs on common bytes.
    let plain = Matcher::new(&RuleSet::builtin().expect("built-in rules load"))
        .expect("built-in rules compile")
        .with_confirmation(Confirmation::Plain);
    measure(&plain, "text (plain confirmation)", &text);
}
