//! The committed sample disk (`cargo xtask testdata`): every secret its manifest lists is
//! found once, by the listed rule, at the listed offset, and nothing else is found; the
//! README's `snapsift audit` of it is the audit's output.

use std::collections::BTreeMap;
use std::path::Path;

use snapsift_testkit::workdir;

use crate::common::*;

#[test]
fn sample_disk_findings_match_its_manifest() {
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
    let dir = workdir();
    let disk = path_in(&dir, "sample-disk.img");
    let compressed = std::fs::File::open(testdata.join("sample-disk.img.zst")).unwrap();
    let mut decoder = zstd::stream::Decoder::new(compressed).unwrap();
    std::io::copy(&mut decoder, &mut std::fs::File::create(&disk).unwrap()).unwrap();

    let manifest: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(testdata.join("sample-disk.secrets.json")).unwrap(),
    )
    .unwrap();
    let expected: BTreeMap<u64, (String, String)> = manifest
        .iter()
        .map(|s| {
            (
                s["offset"].as_u64().unwrap(),
                (
                    s["rule"].as_str().unwrap().into(),
                    s["secret"].as_str().unwrap().into(),
                ),
            )
        })
        .collect();
    assert_eq!(expected.len(), manifest.len(), "offsets are distinct");
    assert!(
        manifest
            .iter()
            .any(|s| s["where"].as_str().unwrap().starts_with("deleted"))
    );
    assert!(manifest.iter().any(|s| s["where"] == "free space"));

    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    let found: BTreeMap<u64, (String, String)> = scan
        .triples()
        .into_iter()
        .map(|(rule, offset, secret)| (offset, (rule, secret)))
        .collect();
    assert_eq!(found.len(), scan.findings.len(), "one finding per offset");
    assert_eq!(found, expected);
}

/// The README shows `snapsift audit` on the sample disk: each line it shows is a line of the
/// audit's output, in the same order (the README cuts some out, marked `...`).
#[test]
fn the_readme_shows_the_audit_of_the_sample_disk_as_it_is() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let command = "$ snapsift audit -q target/sample-disk.img\n";
    let shown = readme
        .split_once(command)
        .expect("the README shows the audit of the sample disk")
        .1
        .split_once("```")
        .unwrap()
        .0;
    let dir = workdir();
    std::fs::create_dir(dir.path().join("target")).unwrap();
    let disk = dir.path().join("target/sample-disk.img");
    let compressed = std::fs::File::open(root.join("testdata/sample-disk.img.zst")).unwrap();
    let mut decoder = zstd::stream::Decoder::new(compressed).unwrap();
    std::io::copy(&mut decoder, &mut std::fs::File::create(&disk).unwrap()).unwrap();
    let output = snapsift()
        .args(["audit", "-q", "target/sample-disk.img"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout).unwrap();
    let mut lines = text.lines();
    for want in shown.lines().filter(|l| l.trim() != "...") {
        assert!(
            lines.any(|line| line == want),
            "the README shows {want:?}, not in this order in the output:\n{text}"
        );
    }
}
