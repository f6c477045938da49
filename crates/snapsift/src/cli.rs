//! Command-line arguments.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use snapsift_engine::shard::Shard;

/// The most scanning threads `--threads` takes: far more than any machine's cores, few
/// enough to start.
const MAX_THREADS: u64 = 1024;

/// Find leaked credentials in disk images and attached disks, reading every byte.
#[derive(Debug, Parser)]
#[command(name = "snapsift", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan raw disk images or block devices, read-only, for secrets.
    ///
    /// Every byte of each disk is searched: files, deleted data and free space alike.
    /// Exit status: 0 no findings, 1 findings, 2 error (reported on stderr), 3 partial scan
    /// (some bytes could not be read, or a limit cut a file's content: the coverage summary
    /// lists them).
    Scan(ScanArgs),
    /// Check each image against the cleanup checklist of an image about to be shared:
    /// password hashes, SSH keys, histories, temporary files and logs, machine identity,
    /// recoverable deleted files, and the secret scan's findings.
    ///
    /// Read-only, as `scan`. Each item is pass, warn or fail, with its evidence (never a
    /// password hash; a secret's value only with --show-secrets) and a one-line remediation.
    /// Exit status: 0 no item reached --fail-on, 1 some did, 2 an image could not be
    /// audited.
    Audit(AuditArgs),
    /// Combine the JSON Lines reports of several scans (the shards of `scan --shard K/N`)
    /// into one report, in any format.
    ///
    /// Findings are deduplicated by image, fingerprint and offset; each image's coverage is
    /// combined from its shards' (every shard 0 to N-1 must be there). Exit status as for
    /// `scan`, of the merged report: 0 no findings, 1 findings, 2 error (an unreadable
    /// report, or an image whose report is incomplete: missing shards, a scan that failed),
    /// 3 partial scan.
    Merge(MergeArgs),
    /// List the rules, or check a rule file's examples.
    Rules(RulesArgs),
}

/// Arguments of `snapsift audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Disk images (any format `scan` reads but a compressed stream) or block devices.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
    pub format: AuditFormat,

    /// Add checks from FILE (TOML, the built-in checks' format: docs/audit.md); a check with
    /// a built-in check's id replaces it.
    #[arg(long, value_name = "FILE")]
    pub checks: Option<PathBuf>,

    /// Exit 1 when an item is at least this bad.
    #[arg(long, value_enum, default_value_t = FailOn::Fail)]
    pub fail_on: FailOn,

    /// Show each secret the scan found in the report (masked with --redact).
    #[arg(long)]
    pub show_secrets: bool,

    /// Mask all but a few characters of each secret, as `scan --redact` does.
    #[arg(long)]
    pub redact: bool,

    /// Write the report to FILE (mode 0600, replaced only once complete) instead of standard
    /// output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Also open files the images name inside DIR (as `scan --allow-path`). Repeatable.
    #[arg(long, value_name = "DIR")]
    pub allow_path: Vec<PathBuf>,

    /// Decompress an image compressed as a whole (.img.zst, .img.gz) into a temporary file
    /// in DIR first (as `scan --spill-dir`): its files cannot be read otherwise.
    #[arg(long, value_name = "DIR")]
    pub spill_dir: Option<PathBuf>,

    /// No progress bar and no notes on standard error.
    #[arg(short, long)]
    pub quiet: bool,

    /// Scanning threads of the secret scan (0: one per core; at most 1024).
    #[arg(long, default_value_t = 0, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=MAX_THREADS))]
    pub threads: usize,
}

/// How `snapsift audit` writes its report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    /// A checklist per image, failed items first.
    Text,
    /// One JSON document (keys in docs/audit.md).
    Json,
    /// SARIF 2.1.0: a rule per check, a result per failed or warned item.
    Sarif,
    /// One self-contained HTML page: the checklist and the disk layout drawn.
    Html,
}

/// The status from which `snapsift audit` exits 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// A warning or a failure.
    Warn,
    /// A failure.
    Fail,
    /// Never (errors still exit 2).
    Never,
}

/// Arguments of `snapsift merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Reports written by `snapsift scan --format jsonl`, or directories of them (every
    /// `*.jsonl` file in a directory, in name order).
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Rules the scans used beyond the built-in pack (`scan --rules`), for the SARIF rule
    /// descriptions; findings of rules not known are described from the findings.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,

    /// Write the report to FILE (mode 0600, replaced only once the report is complete; a
    /// device or FIFO is written as it is) instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Mask all but a few characters of each secret, in the secret and in every context.
    #[arg(long)]
    pub redact: bool,
    /// Exit 0, not 1, when the report has findings (errors and partial scans keep their
    /// statuses): for batch engines that take any other status as a failure to retry.
    #[arg(long)]
    pub exit_zero_on_findings: bool,
}

/// Arguments of `snapsift rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// What to do with the rules.
    #[command(subcommand)]
    pub command: RulesCommand,
}

/// The subcommands of `snapsift rules`.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// List the rules in force: id, confidence, checks and name.
    List {
        /// Add or override rules from FILE (as `scan --rules`).
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
        /// Only these rules (as `scan --only`).
        #[arg(long, value_name = "IDS", value_delimiter = ',')]
        only: Vec<String>,
    },
    /// Compile a rule file (with the built-in rules it may refer to) and run every rule's
    /// examples and negative examples, as written and as UTF-16LE text. Exit status: 0 all
    /// behave, 1 some do not (listed), 2 the file does not load or compile.
    Check {
        /// The rule file (TOML, the built-in pack's format).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// Arguments of `snapsift scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Disk images (raw, qcow2, VHD, VHDX, VMDK, OVA, compressed raw) or block devices such
    /// as /dev/nvme1n1.
    #[arg(required_unless_present = "manifest", value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Also open files the images name (qcow2 backing files, VHD/VHDX parents, VMDK extents and
    /// parents) inside DIR; by default only those inside the naming image's own directory
    /// are opened. Repeatable.
    #[arg(long, value_name = "DIR")]
    pub allow_path: Vec<PathBuf>,

    /// Also scan the images FILE lists, one per line: a path, or a JSON object
    /// {"id": "snap-0123", "path": "/dev/nvme1n1"} whose id names the image in the report.
    /// An image that cannot be scanned does not stop the others.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Add rules from FILE (TOML, the built-in pack's format); a rule with a built-in rule's
    /// id replaces it.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,

    /// Run only these rules: ids or families (`private-key.*`), comma-separated, from the
    /// built-in pack and --rules.
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub only: Vec<String>,

    /// Also report matches an offline check rejected (placeholders, bad checksums, key bodies
    /// that do not parse), marked invalid with the reason.
    #[arg(long)]
    pub include_invalid: bool,

    /// Suppress findings whose fingerprint FILE lists (made by --write-baseline).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Write the fingerprints of this scan's findings to FILE (mode 0600), as a baseline for
    /// later scans.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,

    /// Write findings to FILE (mode 0600, replaced only once the report is complete; a
    /// device or FIFO is written as it is) instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Mask all but a few characters of each secret, in the secret and in every context.
    #[arg(long)]
    pub redact: bool,

    /// No progress bar and no summary on standard error.
    #[arg(short, long)]
    pub quiet: bool,

    /// Exit 0, not 1, when the report has findings (errors and partial scans keep their
    /// statuses): for batch engines that take any other status as a failure to retry.
    #[arg(long)]
    pub exit_zero_on_findings: bool,

    /// Sweep the raw bytes only: skip the file pass (no secrets from compressed files,
    /// archives, UTF-16 text or across a fragmented file's pieces; no archive member names).
    #[arg(long)]
    pub no_file_pass: bool,

    /// Open LUKS1 and LUKS2 volumes with the key in FILE (a passphrase, read whole as
    /// cryptsetup's --key-file reads it, or without one trailing newline; or the raw volume
    /// key) and scan their plaintext too. A volume it does not open stays encrypted.
    #[arg(long, value_name = "FILE")]
    pub luks_key_file: Option<PathBuf>,

    /// Decompress an image compressed as a whole (.img.zst, .img.gz) into a temporary file in
    /// DIR first (sparse, mode 0600, never named, gone when snapsift ends; it takes the space
    /// of the image's data), so that its volumes and files are read as a raw image's. Without
    /// it such an image is swept front to back, its files unread.
    #[arg(long, value_name = "DIR")]
    pub spill_dir: Option<PathBuf>,

    /// Scanning threads (0: one per core; at most 1024).
    #[arg(long, default_value_t = 0, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=MAX_THREADS))]
    pub threads: usize,

    /// Scan only part K of N of each image (K from 0, N at most 1000000), for a scan split
    /// between N processes or machines: their findings together are one full scan's
    /// (`snapsift merge` joins their JSON Lines). K may be the name of an environment
    /// variable holding it, such as JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,

    /// Bytes each scanning task reads at once, beside the overlap (a tuning knob, 4 KiB to 1 GiB).
    #[arg(long, default_value_t = snapsift_scan::ScanConfig::DEFAULT_CHUNK_SIZE,
          value_name = "BYTES", value_parser = clap::value_parser!(u64).range(4096..=1 << 30))]
    pub chunk_size: u64,
}

/// How findings are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Readable text: each secret once, with every place it was found.
    Text,
    /// One JSON object per finding and line (JSON Lines), written as found.
    Jsonl,
    /// One JSON document for the whole run: the JSON Lines objects in an array, and a summary.
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards and other SARIF tools.
    Sarif,
}

/// `K/N`, where K is a number or the name of an environment variable that holds it (so that a
/// Kubernetes Indexed Job can say `JOB_COMPLETION_INDEX/16` and an AWS Batch array job
/// `AWS_BATCH_JOB_ARRAY_INDEX/16`, without a shell to expand them).
fn parse_shard(text: &str) -> anyhow::Result<Shard> {
    let (index, count) = text
        .rsplit_once('/')
        .context("a shard is K/N (K from 0 to N - 1, or an environment variable holding K)")?;
    let count: u64 = count
        .parse()
        .with_context(|| format!("the shard count {count:?} is not a number"))?;
    let index: u64 = if index.bytes().all(|b| b.is_ascii_digit()) {
        index
            .parse()
            .with_context(|| format!("the shard index {index:?} is not a number"))?
    } else {
        let value = std::env::var(index)
            .with_context(|| format!("the shard index is read from ${index}, which is not set"))?;
        value
            .trim()
            .parse()
            .with_context(|| format!("the shard index ${index} holds {value:?}, not a number"))?
    };
    Ok(Shard::new(index, count)?)
}

impl From<Format> for crate::printer::Format {
    fn from(format: Format) -> Self {
        match format {
            Format::Text => crate::printer::Format::Text,
            Format::Jsonl => crate::printer::Format::Jsonl,
            Format::Json => crate::printer::Format::Json,
            Format::Sarif => crate::printer::Format::Sarif,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code)] // std::env::set_var
    fn shards_are_read_from_numbers_or_the_environment() {
        let shard = parse_shard;
        assert_eq!(shard("2/5").unwrap(), Shard { index: 2, count: 5 });
        assert!(shard("5/5").is_err());
        assert!(shard("0/0").is_err());
        assert!(shard("0/1000001").is_err_and(|e| e.to_string().contains("at most 1000000")));
        assert!(shard("1").is_err());
        assert!(shard("a/b").is_err());
        // SAFETY (of set_var): tests of this module run on one thread each, and no other
        // code reads this variable.
        unsafe { std::env::set_var("SNAPSIFT_TEST_SHARD_INDEX", "3") };
        assert_eq!(
            shard("SNAPSIFT_TEST_SHARD_INDEX/4").unwrap(),
            Shard { index: 3, count: 4 }
        );
        let unset = shard("SNAPSIFT_TEST_NOT_SET/4").unwrap_err();
        assert!(format!("{unset:#}").contains("not set"), "{unset:#}");
    }
}
