//! `cargo xtask bench-worstcase`: the matcher's speed on adversarial bytes, against random
//! bytes of the same size.
//!
//! A disk image is written by whoever owns the machine it came from, so its bytes may be chosen
//! to make the scanner slow. The matcher confirms each hit of a rule's anchor with the rule's
//! regex, so the bytes that cost most are a rule's anchor repeated, with between the
//! repetitions whatever makes the regex read furthest before it gives up: a PEM header line
//! over and over without its footer, `user:pass@` without a host, `password = value` without
//! the end of the value. This measurement builds such haystacks from the compiled rule set
//! itself: for every rule and every anchor it compiles to, the anchor followed by each of a
//! list of separators, and each of the rule's own examples cut short (so that the regex runs
//! almost to a match and fails), each repeated to the haystack's size. Every haystack is
//! searched whole by one thread (`Matcher::find_in`, best of [`RUNS`]), and its speed is
//! compared with random bytes of the same size. The report lists each rule's slowest haystack
//! and the slowest of all.
//!
//! This is a measurement, not a test: speed targets live in benchmarks only.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use snapsift_match::{Matcher, RuleSet};

use crate::shared::rng::{BASE64, Prng};

/// Runs per haystack; the fastest is kept (the machine's noise only ever slows a run).
const RUNS: usize = 3;

/// What follows the anchor in each repeated unit: nothing, line and word ends, a PEM body line
/// without a footer, URL credentials without a host, assignments without the value's end,
/// characters that continue a token.
const SEPARATORS: &[&[u8]] = &[
    b"",
    b"\n",
    b" ",
    b"\r\n",
    b"\nMIIEpAIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n",
    b"user:pass@",
    b"u:p@h",
    b" = Val1ue2",
    b"=",
    b":",
    b"+",
    b"a1",
    b"\"",
    b"/",
];

/// One haystack's measurement.
struct Worst {
    /// The rule's id.
    rule: String,
    /// The repeated unit.
    unit: Vec<u8>,
    /// Its speed, MB/s.
    mbps: f64,
    /// How many matches the matcher reported in it.
    matches: usize,
}

impl Worst {
    /// Microseconds per match reported.
    fn micros_per_match(&self, size: usize) -> f64 {
        size as f64 / self.mbps / self.matches.max(1) as f64
    }
}

/// The result: the speed on random bytes and each rule's slowest haystacks.
///
/// Haystacks are told apart by whether they hold matches. Where the repeated unit is no match
/// (an anchor and a separator, an example cut before it matches), the time per byte is what
/// an image made to be slow costs, and the target is at most 10 times random bytes' time.
/// Where every repetition is a match (an example cut after its shortest match), the matcher
/// reports a finding every few dozen bytes, and the time follows the findings: the table
/// gives it per match.
pub struct Report {
    /// Haystack size in bytes.
    size: usize,
    /// MB/s on random bytes.
    random_mbps: f64,
    /// Each rule's slowest haystack without a match, slowest first.
    worst: Vec<Worst>,
    /// Each rule's slowest haystack with matches, slowest first.
    matching: Vec<Worst>,
    /// Haystacks measured.
    haystacks: usize,
}

impl Report {
    /// How many times longer the slowest haystack without a match takes than random bytes.
    pub fn worst_ratio(&self) -> f64 {
        self.worst
            .first()
            .map_or(0.0, |w| self.random_mbps / w.mbps)
    }

    /// One line for the benchmark's report.
    pub fn summary(&self) -> String {
        let Some(worst) = self.worst.first() else {
            return "no rule measured".into();
        };
        let mut line = format!(
            "slowest repeated unit without a match: {} (`{}`), {:.1} MB/s, {:.2}x the time of random bytes ({:.0} MB/s; {} haystacks of {} MiB, one thread)",
            worst.rule,
            escape(&worst.unit, 40),
            worst.mbps,
            self.worst_ratio(),
            self.random_mbps,
            self.haystacks,
            self.size as f64 / f64::from(1u32 << 20)
        );
        if let Some(m) = self.matching.first() {
            let _ = write!(
                line,
                "; slowest with matches: {} ({} matches, {:.1} MB/s, {:.2} us per match)",
                m.rule,
                m.matches,
                m.mbps,
                m.micros_per_match(self.size)
            );
        }
        line
    }

    /// The Markdown tables: each rule's slowest haystack without a match, then with matches,
    /// slowest first.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "## matcher on adversarial bytes\n\n- {} MiB haystacks, one thread, best of {RUNS}; random bytes: {:.0} MB/s\n- {}\n",
            self.size as f64 / f64::from(1u32 << 20),
            self.random_mbps,
            self.summary()
        );
        let _ = writeln!(
            out,
            "| rule | slowest repeated unit without a match | MB/s | x random's time |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|");
        for w in &self.worst {
            let _ = writeln!(
                out,
                "| {} | `{}` | {:.1} | {:.2} |",
                w.rule,
                escape(&w.unit, 40).replace('|', "\\|"),
                w.mbps,
                self.random_mbps / w.mbps
            );
        }
        let _ = writeln!(
            out,
            "\n| rule | slowest repeated unit with matches | matches | MB/s | us per match |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|");
        for w in &self.matching {
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {:.1} | {:.2} |",
                w.rule,
                escape(&w.unit, 40).replace('|', "\\|"),
                w.matches,
                w.mbps,
                w.micros_per_match(self.size)
            );
        }
        out
    }
}

/// Measures the built-in rules on haystacks of `mib` MiB; `only` keeps the rules whose id
/// contains it.
pub fn measure(mib: f64, only: Option<&str>) -> Result<Report> {
    ensure!(
        mib.is_finite() && (1.0 / 16.0..=256.0).contains(&mib),
        "--mib must be between 0.0625 and 256"
    );
    let size = (mib * f64::from(1u32 << 20)).round() as usize;
    let set = RuleSet::builtin().context("loading the built-in rules")?;
    let matcher = Matcher::new(&set).context("compiling the built-in rules")?;
    let mut prng = Prng::new(0x5ca1_ab1e);
    let random: Vec<u8> = (0..size).map(|_| prng.u64() as u8).collect();
    let (random_mbps, _) = speed(&matcher, &random);
    let mut worst = Vec::new();
    let mut matching = Vec::new();
    let mut haystacks = 0;
    for (index, rule) in matcher.rules().iter().enumerate() {
        if only.is_some_and(|o| !rule.id.contains(o)) {
            continue;
        }
        let mut slowest: [Option<Worst>; 2] = [None, None];
        for unit in units(&matcher, index) {
            let haystack = repeat(&unit, size);
            let (mbps, matches) = speed(&matcher, &haystack);
            haystacks += 1;
            let slot = &mut slowest[usize::from(matches > 0)];
            if slot.as_ref().is_none_or(|s| mbps < s.mbps) {
                *slot = Some(Worst {
                    rule: rule.id.clone(),
                    unit,
                    mbps,
                    matches,
                });
            }
        }
        let [without, with] = slowest;
        for (s, kind) in [(&without, "no match"), (&with, "matches")] {
            if let Some(s) = s {
                println!(
                    "{:<36} {:>9.1} MB/s {:>8.2}x  {:>6} {kind}  `{}`",
                    s.rule,
                    s.mbps,
                    random_mbps / s.mbps,
                    s.matches,
                    escape(&s.unit, 48)
                );
            }
        }
        worst.extend(without);
        matching.extend(with);
    }
    worst.sort_by(|a, b| a.mbps.total_cmp(&b.mbps));
    matching.sort_by(|a, b| {
        b.micros_per_match(size)
            .total_cmp(&a.micros_per_match(size))
    });
    Ok(Report {
        size,
        random_mbps,
        worst,
        matching,
        haystacks,
    })
}

/// `cargo xtask bench-worstcase`: measures, prints the table and writes it to
/// target/bench/worstcase.md.
pub fn run(mib: f64, only: Option<&str>) -> Result<()> {
    let report = measure(mib, only)?;
    let table = report.table();
    println!("\n{table}");
    let dir = crate::shared::workspace::target_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("worstcase.md");
    std::fs::write(&path, &table)?;
    println!("(written to {})", crate::shared::workspace::display(&path));
    Ok(())
}

/// The repeated units for rule `rule`: each anchor followed by each separator, and the rule's
/// examples cut short at half, nine tenths and all but the last byte.
fn units(matcher: &Matcher, rule: usize) -> Vec<Vec<u8>> {
    let mut units = Vec::new();
    for anchor in matcher.anchors(rule) {
        for separator in SEPARATORS {
            units.push([&anchor[..], separator].concat());
        }
        // The anchor followed by a base64 body that runs on without a break.
        let mut prng = Prng::new(anchor.len() as u64);
        let body: Vec<u8> = (0..200)
            .map(|_| BASE64[prng.u64() as usize % BASE64.len()])
            .collect();
        units.push([&anchor[..], &body].concat());
    }
    for example in &matcher.rules()[rule].examples {
        let bytes = example.as_bytes();
        for cut in [bytes.len() / 2, bytes.len() * 9 / 10, bytes.len() - 1] {
            if cut > 0 {
                units.push(bytes[..cut].to_vec());
            }
        }
    }
    units.sort();
    units.dedup();
    units
}

/// `unit` repeated to `size` bytes (the last repetition cut short).
fn repeat(unit: &[u8], size: usize) -> Vec<u8> {
    unit.iter().copied().cycle().take(size).collect()
}

/// MB/s of one thread searching `haystack` whole, best of [`RUNS`], and how many matches it
/// reported.
fn speed(matcher: &Matcher, haystack: &[u8]) -> (f64, usize) {
    let mut scratch = matcher.scratch();
    let mut out = Vec::new();
    let mut best = Duration::MAX;
    for _ in 0..RUNS {
        out.clear();
        let start = Instant::now();
        matcher.find_in(
            black_box(haystack),
            0..haystack.len(),
            &mut scratch,
            &mut out,
        );
        best = best.min(start.elapsed());
    }
    let matches = black_box(&out).len();
    (
        haystack.len() as f64 / 1e6 / best.as_secs_f64().max(1e-9),
        matches,
    )
}

/// `bytes` as printable ASCII with escapes, cut to `max` characters.
fn escape(bytes: &[u8], max: usize) -> String {
    let text: String = bytes.escape_ascii().to_string();
    if text.len() > max {
        format!("{}...", &text[..max])
    } else {
        text
    }
}
