//! `snapsift rules` and the rules a scan runs: the built-in pack, plus a user's rule file.

use std::path::Path;

use anyhow::Context;
use snapsift_match::{Matcher, RuleSet, check_examples};

use crate::cli::{RulesArgs, RulesCommand};
use crate::input::{self, ReadFiles};
use crate::{EXIT_CLEAN, EXIT_FINDINGS};

/// The built-in rules, with those of `extra` added (a rule with a built-in id replaces it),
/// and then, if `only` names any, just those (see [`RuleSet::only`]). The rule file (at most
/// 64 MiB, read as [`crate::input`] reads the files a user names) is one of the files the
/// run reads (`reads`).
pub fn load(
    extra: Option<&Path>,
    only: &[String],
    reads: &mut ReadFiles,
) -> anyhow::Result<RuleSet> {
    let mut set = RuleSet::builtin().context("the built-in rules do not load")?;
    if let Some(path) = extra {
        set = with_file(set, path, &read_file(path, reads)?)?;
    }
    if only.is_empty() {
        return Ok(set);
    }
    set.only(only).context("--only")
}

/// The text of the rule file `path`.
fn read_file(path: &Path, reads: &mut ReadFiles) -> anyhow::Result<String> {
    input::read_text(path, "rule file", reads)
}

/// `set` with the rules of the rule file `path`, whose text is `text`, added.
fn with_file(set: RuleSet, path: &Path, text: &str) -> anyhow::Result<RuleSet> {
    let family = path
        .file_stem()
        .map_or_else(|| "user".into(), |s| s.to_string_lossy());
    let added = RuleSet::from_toml(text)
        .with_context(|| format!("{}", path.display()))?
        .in_family(&family);
    set.with_overrides(added)
        .with_context(|| format!("{}", path.display()))
}

/// Runs `snapsift rules ...`.
pub fn run(args: &RulesArgs) -> anyhow::Result<u8> {
    match &args.command {
        RulesCommand::List { rules, only } => {
            let set = load(rules.as_deref(), only, &mut ReadFiles::default())?;
            let matcher = Matcher::new(&set).context("the rules do not compile")?;
            // Grouped by family, the families in the order their first rule runs.
            let mut families: Vec<&str> = Vec::new();
            for rule in matcher.rules() {
                if !families.contains(&rule.family.as_str()) {
                    families.push(&rule.family);
                }
            }
            for family in &families {
                for rule in matcher.rules().iter().filter(|r| r.family == *family) {
                    let checks: Vec<String> =
                        rule.checks.iter().map(|c| c.name().to_owned()).collect();
                    let checks = if checks.is_empty() {
                        "-".to_owned()
                    } else {
                        checks.join(",")
                    };
                    println!(
                        "{:<36} {:<14} {:<7} {:<28} {}",
                        rule.id,
                        rule.family,
                        rule.confidence.as_str(),
                        checks,
                        rule.name
                    );
                }
            }
            // Rule writers need to know what their anchors cost the search.
            eprintln!(
                "{} rules in {} families; the anchor search ({}) looks for {} literals in {} SIMD pass(es) over the bytes",
                matcher.rules().len(),
                families.len(),
                matcher.anchor_search_name(),
                matcher.head_count(),
                matcher.head_passes()
            );
            Ok(EXIT_CLEAN)
        }
        RulesCommand::Check { file } => {
            let text = read_file(file, &mut ReadFiles::default())?;
            let builtin = RuleSet::builtin().context("the built-in rules do not load")?;
            let set = with_file(builtin, file, &text)?;
            let matcher = Matcher::new(&set)
                .with_context(|| format!("{}: the rules do not compile", file.display()))?;
            let own = RuleSet::from_toml(&text)?;
            let own_ids: Vec<&str> = own.rules().iter().map(|r| r.id.as_str()).collect();
            let failures: Vec<_> = check_examples(&matcher)
                .into_iter()
                .filter(|f| own_ids.contains(&f.rule.as_str()))
                .collect();
            let examples: usize = own
                .rules()
                .iter()
                .map(|r| r.examples.len() + r.negative_examples.len())
                .sum();
            for failure in &failures {
                println!("FAIL {failure}");
            }
            println!(
                "{}: {} rule(s), {examples} example(s), {} failure(s)",
                file.display(),
                own_ids.len(),
                failures.len()
            );
            Ok(if failures.is_empty() {
                EXIT_CLEAN
            } else {
                EXIT_FINDINGS
            })
        }
    }
}
