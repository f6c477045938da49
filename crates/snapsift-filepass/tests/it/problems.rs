//! What the file pass cannot read or expand is a problem of its file, never a silence: a
//! corrupt gzip file, and content a limit cut.

use std::path::Path;

use snapsift_filepass::{FilePassConfig, Limits};
use snapsift_testkit::{Secrets, mkfs_from_tree, sh, workdir, write_file};

use crate::common::{Opened, only};

/// An ext4 image of `tree`.
fn ext4_of(dir: &Path) -> std::path::PathBuf {
    let image = dir.join("ext4.img");
    mkfs_from_tree(
        "mkfs.ext4",
        &image,
        &dir.join("tree"),
        "8M",
        &["-b", "4096"],
    );
    image
}

#[test]
fn a_corrupt_gzip_file_is_a_problem_of_that_file_and_the_rest_is_read() {
    let dir = workdir();
    let tree = dir.path().join("tree");
    let mut s = Secrets::new(11);
    let good = s.aws_key_id();
    write_file(&tree, "good.log", format!("AWS_ACCESS_KEY_ID={good}\n"));
    write_file(&tree, "bad.log", s.filler(20_000));
    sh(&tree, "gzip good.log bad.log");
    // The deflate stream of bad.log.gz garbled past its header.
    let bad = tree.join("bad.log.gz");
    let mut bytes = std::fs::read(&bad).unwrap();
    for b in &mut bytes[40..200] {
        *b = 0xff;
    }
    std::fs::write(&bad, bytes).unwrap();
    let opened = Opened::new(&ext4_of(dir.path()));
    let output = opened.pass(&FilePassConfig::default());

    let bad_index = opened.index_of("/bad.log.gz");
    let problems: Vec<_> = output
        .problems
        .iter()
        .filter(|p| p.file == bad_index)
        .collect();
    assert_eq!(problems.len(), 1, "{:#?}", output.problems);
    assert_eq!(problems[0].limit, None, "corrupt, not cut by a limit");
    assert!(!problems[0].message.is_empty());
    assert_eq!(only(&output, &good).file, opened.index_of("/good.log.gz"));
}

#[test]
fn content_a_limit_cuts_is_a_problem_that_names_the_limit() {
    let dir = workdir();
    let tree = dir.path().join("tree");
    let mut s = Secrets::new(12);
    let deep = s.aws_key_id();
    // A gzip inside a gzip inside a gzip: three layers.
    write_file(&tree, "deep.txt", format!("AWS_ACCESS_KEY_ID={deep}\n"));
    sh(
        &tree,
        "gzip deep.txt && mv deep.txt.gz a && gzip a && mv a.gz b && gzip b",
    );
    let opened = Opened::new(&ext4_of(dir.path()));
    let limits = Limits {
        max_depth: 2,
        ..Limits::default()
    };
    let config = FilePassConfig {
        limits,
        ..FilePassConfig::default()
    };
    let output = opened.pass(&config);
    assert!(output.findings.is_empty(), "{:#?}", output.findings);
    let problem = output
        .problems
        .iter()
        .find(|p| p.file == opened.index_of("/b.gz"))
        .unwrap_or_else(|| panic!("no problem for /b.gz: {:#?}", output.problems));
    let limit = problem.limit.expect("a limit");
    assert_eq!((limit.name, limit.value), ("max_depth", 2));

    // With the default limits the same file gives its secret.
    let output = opened.pass(&FilePassConfig::default());
    assert_eq!(only(&output, &deep).file, opened.index_of("/b.gz"));
}
