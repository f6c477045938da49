//! The shared confirmation (runs from nearby hits share their work) finds exactly what the
//! plain one (each hit's regex alone over the rule's whole reach) finds, on random bytes and
//! on bytes made of the rules' own anchors and examples, cut and repeated as an attacker would.

use snapsift_match::{Confirmation, Matcher, RuleSet};

use crate::common::find;

/// A small deterministic generator (xorshift64*), so a failure can be replayed.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() >> 33) as usize % n
    }
}

/// The shared confirmation on every hit of the long rules from the first, and the plain one.
fn matchers() -> (Matcher, Matcher) {
    let set = RuleSet::builtin().unwrap();
    let shared = Matcher::new(&set)
        .unwrap()
        .with_confirmation(Confirmation::SharedOnly);
    let plain = Matcher::new(&set)
        .unwrap()
        .with_confirmation(Confirmation::Plain);
    (shared, plain)
}

/// Compares the two confirmations on `hay`, in UTF-8 and as UTF-16LE.
fn same(shared: &Matcher, plain: &Matcher, hay: &[u8], what: &str) {
    let wide: Vec<u8> = hay.iter().flat_map(|&b| [b, 0]).collect();
    for bytes in [hay, &wide[..]] {
        let expected = find(plain, bytes);
        let got = find(shared, bytes);
        if got != expected {
            let first = got
                .iter()
                .zip(&expected)
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(expected.len()));
            panic!(
                "{what}: the shared confirmation found {} matches, the plain one {}; first \
                 difference at #{first}: {:?} against {:?}\nhaystack: {:?}",
                got.len(),
                expected.len(),
                got.get(first),
                expected.get(first),
                String::from_utf8_lossy(&hay[..hay.len().min(600)]),
            );
        }
    }
}

/// Pieces an attacker would repeat: every anchor of every rule, each example whole and cut
/// short, separators that keep a regex reading.
fn pieces(matcher: &Matcher) -> Vec<Vec<u8>> {
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    for (index, rule) in matcher.rules().iter().enumerate() {
        pieces.extend(matcher.anchors(index).iter().cloned());
        for example in &rule.examples {
            let bytes = example.as_bytes();
            pieces.push(bytes.to_vec());
            pieces.push(bytes[..bytes.len() / 2].to_vec());
            pieces.push(bytes[..bytes.len() - 1].to_vec());
            pieces.push(bytes[bytes.len() / 2..].to_vec());
        }
    }
    for separator in [
        "\n",
        " ",
        "\r\n",
        "=",
        " = ",
        ":",
        "@",
        "/",
        "+",
        "\"",
        "'",
        ";",
        "&",
        "-----",
        "user:pass@",
        "u:p@h",
        "Val1ue2",
        "MIIEpAIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0t",
        "==",
        "\\n",
    ] {
        pieces.push(separator.as_bytes().to_vec());
    }
    pieces
}

#[test]
fn shared_and_plain_confirmation_agree_on_random_bytes() {
    let (shared, plain) = matchers();
    let mut prng = Prng(0x00c0_ffee);
    for case in 0..20 {
        let len = 1 + prng.below(32 * 1024);
        let hay: Vec<u8> = (0..len).map(|_| (prng.next() >> 56) as u8).collect();
        same(&shared, &plain, &hay, &format!("random case {case}"));
    }
}

#[test]
fn shared_and_plain_confirmation_agree_on_mixed_pieces() {
    let (shared, plain) = matchers();
    let pieces = pieces(&shared);
    let mut prng = Prng(0x5eed_1234);
    for case in 0..300 {
        // A few pieces, each repeated a few times, some bytes of noise between them.
        let mut hay = Vec::new();
        let target = 64 + prng.below(12 * 1024);
        let chosen: Vec<&Vec<u8>> = (0..1 + prng.below(4))
            .map(|_| &pieces[prng.below(pieces.len())])
            .collect();
        while hay.len() < target {
            let piece = chosen[prng.below(chosen.len())];
            for _ in 0..1 + prng.below(8) {
                hay.extend_from_slice(piece);
            }
            if prng.below(4) == 0 {
                hay.push(b" \n=:@/+\"'xA1"[prng.below(12)]);
            }
        }
        same(&shared, &plain, &hay, &format!("mixed case {case}"));
    }
}

#[test]
fn shared_and_plain_confirmation_agree_on_repeated_anchors() {
    let (shared, plain) = matchers();
    let separators: [&[u8]; 8] = [
        b"",
        b"\n",
        b" ",
        b"user:pass@",
        b" = Val1ue2",
        b"+",
        b"\nMIIEpAIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n",
        b"\"",
    ];
    for rule in 0..shared.rules().len() {
        for anchor in shared.anchors(rule) {
            for separator in separators {
                let unit = [&anchor[..], separator].concat();
                let hay: Vec<u8> = unit.iter().copied().cycle().take(6 * 1024).collect();
                let what = format!("{} repeated", String::from_utf8_lossy(&unit));
                same(&shared, &plain, &hay, &what);
            }
        }
    }
}

#[test]
fn every_example_is_found_alike_among_its_neighbours() {
    // Examples glued together and to cut copies of each other: matches next to, inside and
    // overlapping other matches of the same rule.
    let (shared, plain) = matchers();
    for rule in shared.rules() {
        let mut hay = Vec::new();
        for example in &rule.examples {
            let bytes = example.as_bytes();
            hay.extend_from_slice(&bytes[..bytes.len() / 2]);
            hay.extend_from_slice(bytes);
            hay.push(b'\n');
            hay.extend_from_slice(bytes);
            hay.extend_from_slice(bytes);
        }
        same(&shared, &plain, &hay, &format!("examples of {}", rule.id));
    }
}

#[test]
fn the_default_confirmation_switches_to_shared_runs_and_finds_the_same() {
    let set = RuleSet::builtin().unwrap();
    let default = Matcher::new(&set).unwrap();
    let (_, plain) = matchers();
    let pieces = pieces(&default);
    let mut prng = Prng(0x0dd5_eed5);
    for case in 0..100 {
        let mut hay = Vec::new();
        let piece = &pieces[prng.below(pieces.len())];
        while hay.len() < 16 * 1024 {
            hay.extend_from_slice(piece);
            hay.extend_from_slice(&pieces[prng.below(pieces.len())]);
        }
        same(&default, &plain, &hay, &format!("default case {case}"));
    }
}

#[test]
fn the_shared_confirmation_reads_each_byte_a_bounded_number_of_times() {
    // A PEM header repeated without its footer: the plain confirmation reads each header's
    // whole reach (32 KiB), the shared one (after its switch) a few bytes per byte.
    let set = RuleSet::builtin().unwrap();
    let shared = Matcher::new(&set).unwrap();
    let (_, plain) = matchers();
    let hay: Vec<u8> = b"-----BEGIN RSA PRIVATE KEY-----\n"
        .iter()
        .copied()
        .cycle()
        .take(256 * 1024)
        .collect();
    let work = |matcher: &Matcher| {
        let mut scratch = matcher.scratch();
        let mut out = Vec::new();
        matcher.find_in(&hay, 0..hay.len(), &mut scratch, &mut out);
        scratch.confirmation_work() as f64 / hay.len() as f64
    };
    let (shared_work, plain_work) = (work(&shared), work(&plain));
    assert!(plain_work > 500.0, "plain work {plain_work} per byte");
    assert!(shared_work < 16.0, "shared work {shared_work} per byte");
}

#[test]
fn a_line_of_connection_uris_is_read_a_bounded_number_of_times() {
    // Each URI's path could run over all the URIs after it, so that every hit read the rule's
    // whole reach (47 bytes per byte, 1,000 times the time of random bytes); a path stops at a
    // `:`, which every scheme holds, so each URI ends before the next begins.
    let set = RuleSet::builtin().unwrap();
    let matcher = Matcher::new(&set).unwrap();
    for unit in [
        &b"amqp://u:p@h"[..],
        b"amqp://u:p@h/",
        b"postgres://app:Pw9@db/app?x=postgres://",
    ] {
        let hay: Vec<u8> = unit.iter().copied().cycle().take(256 * 1024).collect();
        let mut scratch = matcher.scratch();
        let mut out = Vec::new();
        matcher.find_in(&hay, 0..hay.len(), &mut scratch, &mut out);
        let work = scratch.confirmation_work() as f64 / hay.len() as f64;
        let what = String::from_utf8_lossy(unit);
        assert!(!out.is_empty(), "{what}: no URI found");
        assert!(work < 8.0, "{what}: {work:.1} bytes read per byte");
    }
}
