//! `snapsift scan --manifest FILE`: a list of images, some named by ids, in one report; an
//! image that cannot be scanned (missing, corrupt) does not stop the others, and each finding
//! names its image.

use std::fs;
use std::path::Path;

use serde_json::Value;
use snapsift_testkit::{Secrets, qemu_convert, workdir, write_at};

use crate::common::*;

const MIB: u64 = 1 << 20;

/// A 16 MiB raw disk of filler text with three secrets; `seed` makes them its own.
fn raw_disk(path: &Path, seed: u64) {
    let mut s = Secrets::new(seed);
    fs::write(path, s.filler(16 * MIB as usize)).unwrap();
    for (i, secret) in [s.aws_key_id(), s.postgres_uri(), s.alibaba_key_id()]
        .iter()
        .enumerate()
    {
        write_at(
            path,
            (i as u64 + 1) * 3 * MIB,
            format!("\n{secret}\n").as_bytes(),
        );
    }
}

/// The findings of a scan of `image` alone, named as `name`.
fn alone(image: &Path, name: &str) -> Vec<Value> {
    let scan = Scan::run(&[image], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    scan.findings
        .into_iter()
        .map(|mut f| {
            f["image"] = Value::from(name);
            f
        })
        .collect()
}

#[test]
fn a_manifest_scans_every_image_and_names_each_by_its_id() {
    let dir = workdir();
    let (raw, qcow2_source, qcow2, broken) = (
        path_in(&dir, "a.img"),
        path_in(&dir, "b.img"),
        path_in(&dir, "b.qcow2"),
        path_in(&dir, "broken.qcow2"),
    );
    raw_disk(&raw, 1);
    raw_disk(&qcow2_source, 2);
    qemu_convert(&qcow2_source, "qcow2", &[], &qcow2);
    // A qcow2 header cut short: not an image snapsift can read.
    fs::write(&broken, &fs::read(&qcow2).unwrap()[..40]).unwrap();
    let missing = path_in(&dir, "nope.img");
    let manifest = path_in(&dir, "fleet.jsonl");
    let line = |id: &str, path: &Path| {
        serde_json::json!({"id": id, "path": path.to_str().unwrap()}).to_string()
    };
    fs::write(
        &manifest,
        [
            "# a fleet".to_owned(),
            line("snap-a", &raw),
            line("snap-missing", &missing),
            String::new(),
            qcow2.to_str().unwrap().to_owned(),
            line("snap-broken", &broken),
        ]
        .join("\n"),
    )
    .unwrap();

    let scan = Scan::run(&[], &["--manifest", manifest.to_str().unwrap()]);
    assert_eq!(scan.code, 2, "two images failed: {}", scan.stderr);
    let names: Vec<&str> = scan
        .coverage
        .iter()
        .map(|c| c["image"].as_str().unwrap())
        .collect();
    let qcow2_name = qcow2.to_str().unwrap();
    assert_eq!(names, ["snap-a", "snap-missing", qcow2_name, "snap-broken"]);
    for (c, complete) in scan.coverage.iter().zip([true, false, true, false]) {
        assert_eq!(c["complete"], complete, "{c}");
    }
    let error = scan.coverage[1]["error"].as_str().unwrap();
    assert!(
        error.contains("snap-missing") && error.contains("nope.img"),
        "{error}"
    );
    assert!(
        scan.coverage[3]["error"]
            .as_str()
            .unwrap()
            .contains("snap-broken")
    );
    assert!(scan.stderr.contains("snap-missing") && scan.stderr.contains("snap-broken"));

    let mut expected = alone(&raw, "snap-a");
    expected.extend(alone(&qcow2, qcow2_name));
    assert_eq!(expected.len(), 6);
    assert_eq!(scan.findings, expected);
}

#[test]
fn a_bad_manifest_is_refused_before_anything_is_scanned() {
    let dir = workdir();
    let raw = path_in(&dir, "a.img");
    raw_disk(&raw, 3);
    let manifest = path_in(&dir, "fleet.jsonl");
    fs::write(
        &manifest,
        format!("{}\n{{\"id\": \"x\", \"file\": \"y\"}}\n", raw.display()),
    )
    .unwrap();
    let output = snapsift()
        .args(["scan", "--manifest", manifest.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "nothing scanned");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("manifest {}, line 2", manifest.display())),
        "{stderr}"
    );
}

#[test]
fn a_manifest_scanned_in_shards_merges_into_the_full_report() {
    let dir = workdir();
    let (a, b) = (path_in(&dir, "a.img"), path_in(&dir, "b.img"));
    raw_disk(&a, 4);
    raw_disk(&b, 5);
    let manifest = path_in(&dir, "fleet.jsonl");
    fs::write(
        &manifest,
        format!(
            "{{\"id\": \"snap-a\", \"path\": \"{}\"}}\n{{\"id\": \"snap-b\", \"path\": \"{}\"}}\n",
            a.display(),
            b.display()
        ),
    )
    .unwrap();
    let manifest = manifest.to_str().unwrap();
    let scan = [
        "scan",
        "--quiet",
        "--format",
        "jsonl",
        "--manifest",
        manifest,
    ];
    let reports = workdir();
    for k in 0..2 {
        let report = path_in(&reports, &format!("shard-{k}.jsonl"));
        let shard = format!("{k}/2");
        let mut args = scan.to_vec();
        args.extend(["--shard", &shard, "-o", report.to_str().unwrap()]);
        let (code, _, _) = snapsift_run(&args);
        assert!(code <= 1);
    }
    let (code, merged, _) = snapsift_run(&[
        "merge",
        "--format",
        "jsonl",
        reports.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    let (code, full, _) = snapsift_run(&scan);
    assert_eq!(code, 1);
    assert_eq!(merged, full);
}
