//! `--redact` masks every secret the report knows of, wherever the report shows it: a secret
//! the baseline suppressed, in the context of a new finding on its line; a token a file or an
//! archive member is named after, though no finding reports it. In every format; and without
//! `--redact` the same outputs show them, so each check can fail. A baseline's places never
//! show such a token either.

use std::path::Path;

use snapsift_testkit::{Secrets, mkfs_ext4, workdir};

use crate::common::*;

const FORMATS: [&str; 4] = ["text", "jsonl", "json", "sarif"];

/// Runs `snapsift scan --quiet --format FORMAT EXTRA... IMAGE`; returns standard output,
/// after checking that the exit status says findings.
fn scan(format: &str, extra: &[&str], image: &Path) -> String {
    let mut args = vec!["scan", "--quiet", "--format", format];
    args.extend(extra);
    args.push(image.to_str().unwrap());
    let (code, out, stderr) = snapsift_run(&args);
    assert_eq!(code, 1, "{format} {extra:?}: {stderr}");
    out
}

#[test]
fn a_secret_the_baseline_suppressed_is_masked_in_a_new_findings_context() {
    let dir = workdir();
    let mut s = Secrets::new(1801);
    let (old, new) = (s.alnum(40), s.postgres_uri());
    let first_tree = path_in(&dir, "first");
    write_tree(
        &first_tree,
        &[("etc/app/env", format!("aws_secret_access_key = {old}\n"))],
    );
    let first = path_in(&dir, "first.ext4");
    mkfs_ext4(&first, &first_tree, 8);
    let baseline = path_in(&dir, "baseline.json");
    let baseline_arg = baseline.to_str().unwrap();
    let known = Scan::run(&[&first], &["--write-baseline", baseline_arg]);
    assert_eq!(known.findings.len(), 1, "{:#?}", known.findings);
    assert_eq!(known.only(&old)["rule"], "aws.secret-access-key");

    // The next snapshot: the same file, a new secret on the old one's line.
    let next_tree = path_in(&dir, "next");
    write_tree(
        &next_tree,
        &[("etc/app/env", line_hiding_a_keyword(&old, &new))],
    );
    let next = path_in(&dir, "next.ext4");
    mkfs_ext4(&next, &next_tree, 8);
    let scan_next = Scan::run(&[&next], &["--baseline", baseline_arg]);
    assert_eq!(scan_next.findings.len(), 1, "{:#?}", scan_next.findings);
    let context = scan_next.only(&new)["context"].as_str().unwrap().to_owned();
    assert!(
        context.starts_with("ess_key = ") && context.contains(&old),
        "the old secret shows whole, without its keyword: {context}"
    );

    let password = new.split([':', '@']).nth(2).unwrap();
    for format in FORMATS {
        let redacted = scan(format, &["--baseline", baseline_arg, "--redact"], &next);
        for secret in [old.as_str(), password] {
            let parts = shown_parts(&redacted, secret);
            assert!(parts.is_empty(), "{format} shows {parts:?}:\n{redacted}");
        }
        assert!(redacted.contains("ess_key = "), "{format}: {redacted}");
        let full = scan(format, &["--baseline", baseline_arg], &next);
        assert!(full.contains(&old), "{format} without --redact: {full}");
    }
}

#[test]
fn a_token_in_a_file_or_member_name_is_masked_though_no_finding_reports_it() {
    let dir = workdir();
    let mut s = Secrets::new(1802);
    // GitHub tokens by shape; their checksums are wrong, so no finding reports them.
    let (in_path, in_member) = (
        format!("ghp_{}", s.alnum(36)),
        format!("ghp_{}", s.alnum(36)),
    );
    let (pg, jdbc) = (s.postgres_uri(), s.jdbc_mysql_uri());
    let tree = path_in(&dir, "tree");
    write_tree(
        &tree,
        &[(
            &format!("home/ops/{in_path}.env"),
            format!("DATABASE_URL={pg}\n"),
        )],
    );
    let app = path_in(&dir, "app");
    let member = format!("app/{in_member}/.env");
    write_tree(&app, &[(&member, format!("DATABASE_URL={jdbc}\n"))]);
    tar_gz(&tree.join("srv/backup.tar.gz"), &app, &member);
    let image = path_in(&dir, "fs.ext4");
    mkfs_ext4(&image, &tree, 8);

    let baseline = path_in(&dir, "baseline.json");
    let found = Scan::run(&[&image], &["--write-baseline", baseline.to_str().unwrap()]);
    let paths: Vec<String> = found
        .findings
        .iter()
        .filter_map(|f| f["location"]["path"].as_str().map(str::to_owned))
        .collect();
    assert!(paths.iter().any(|p| p.contains(&in_path)), "{paths:?}");
    let layers = found.only(&jdbc)["location"]["container"].clone();
    assert!(
        layers
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["member"] == member.as_str()),
        "{layers}"
    );
    for token in [&in_path, &in_member] {
        assert!(
            found.findings.iter().all(|f| f["secret"] != token.as_str()),
            "{token} is a finding of its own"
        );
    }

    // The baseline names each finding's place for people, and never shows a secret.
    let places = std::fs::read_to_string(&baseline).unwrap();
    assert!(places.contains("/home/ops/ghp_****"), "{places}");
    for token in [&in_path, &in_member] {
        assert!(!places.contains(&token[4..]), "{places}");
    }

    for format in FORMATS {
        let redacted = scan(format, &["--redact"], &image);
        for token in [&in_path, &in_member] {
            assert!(
                !redacted.contains(&token[4..]),
                "{format} shows {token}:\n{redacted}"
            );
        }
        if format == "text" {
            let masked = |token: &str| format!("ghp_************{}", &token[38..]);
            assert!(
                redacted.contains(&format!("/home/ops/{}.env  (allocated", masked(&in_path))),
                "{redacted}"
            );
            assert!(
                redacted.contains(&format!(
                    "/srv/backup.tar.gz!/app/{}/.env  (allocated",
                    masked(&in_member)
                )),
                "{redacted}"
            );
        }
        let full = scan(format, &[], &image);
        for token in [&in_path, &in_member] {
            assert!(full.contains(token.as_str()), "{format} without --redact");
        }
    }
}
