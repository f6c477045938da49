//! The fleet documents (docs/fleet.md) run what the tests run: the `args` of the Kubernetes
//! manifests, as written, and the AWS Batch worker script, on a read-only loop device over a
//! test disk, one process per shard with the engine's index variable set; each merged report
//! is what a full scan of the disk prints.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use snapsift_testkit::{
    LoopDevice, Secrets, gpt_disk_with_root, mkfs_ext4, sh, unavailable, workdir,
};

use crate::common::*;

/// The repository root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A GPT disk with an ext4 partition holding secrets in files and in a `.tar.gz`.
fn test_disk(dir: &tempfile::TempDir) -> PathBuf {
    let mut s = Secrets::new(77);
    let tree = path_in(dir, "tree");
    write_tree(
        &tree,
        &[
            (
                "root/.aws/credentials",
                format!(
                    "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                    s.aws_key_id(),
                    s.alnum(40)
                ),
            ),
            ("etc/app.conf", format!("db = {}\n", s.postgres_uri())),
            ("srv/.env", format!("KEY={}\n", s.alibaba_key_id())),
            (
                "var/log/app.log",
                String::from_utf8(s.filler(3 << 20)).unwrap(),
            ),
        ],
    );
    sh(&tree, "tar czf srv.tar.gz srv && rm -r srv");
    let fs_image = path_in(dir, "root.ext4");
    mkfs_ext4(&fs_image, &tree, 16);
    let disk = path_in(dir, "disk.img");
    gpt_disk_with_root(&disk, &fs_image);
    disk
}

/// The disk as the workers see it: a read-only loop device (or, without root, the image
/// itself, a failure under `CI=true`), behind a symbolic link `name` in `dir` that names it alike for every shard.
fn attached(dir: &tempfile::TempDir, disk: &Path, name: &str) -> (PathBuf, Option<LoopDevice>) {
    let (target, device) = match LoopDevice::attach(disk) {
        Ok(device) => (device.device.clone(), Some(device)),
        Err(reason) => {
            unavailable(&format!(
                "loop devices unavailable, the image file is scanned instead: {reason}"
            ));
            (disk.to_path_buf(), None)
        }
    };
    let link = path_in(dir, name);
    std::os::unix::fs::symlink(&target, &link).unwrap();
    (link, device)
}

/// The `args: [...]` of a Kubernetes manifest (written as a JSON array on one line).
fn manifest_args(manifest: &str) -> Vec<String> {
    let line = manifest
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("args: "))
        .expect("the manifest has args");
    serde_json::from_str(line).expect("args are a JSON array")
}

/// The number after `key: ` in a manifest.
fn manifest_number(manifest: &str, key: &str) -> u64 {
    manifest
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key}"))
        .parse()
        .unwrap()
}

/// Checks that `output`, of `what`, exited with `code`.
fn assert_exit(output: &std::process::Output, code: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{what}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `snapsift scan --format FORMAT --quiet IMAGE` (exit status 1: the disk has findings).
fn full_scan(format: &str, image: &Path) -> String {
    let output = snapsift()
        .args(["scan", "--quiet", "--format", format])
        .arg(image)
        .output()
        .unwrap();
    assert_exit(&output, 1, "the full scan");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_kubernetes_indexed_job_and_its_merge_job_make_the_full_report() {
    let dir = workdir();
    let disk = test_disk(&dir);
    let (device, _attached) = attached(&dir, &disk, "dev-snapshot");
    let reports = path_in(&dir, "reports");
    let docs = root().join("docs/fleet/kubernetes");
    let scan_job = fs::read_to_string(docs.join("scan-job.yaml")).unwrap();
    let merge_job = fs::read_to_string(docs.join("merge-job.yaml")).unwrap();
    let n = manifest_number(&scan_job, "completions");
    assert_eq!(manifest_number(&scan_job, "parallelism"), n);
    let scan_args = manifest_args(&scan_job);
    assert!(
        scan_args.contains(&format!("JOB_COMPLETION_INDEX/{n}")),
        "--shard matches completions: {scan_args:?}"
    );
    // What the pod sees, as this machine has it.
    let here = |arg: &str, k: Option<u64>| {
        let mut arg = arg
            .replace("/dev/snapshot", device.to_str().unwrap())
            .replace("/reports", reports.to_str().unwrap())
            .replace("SNAPSHOT", "snap-test");
        if let Some(k) = k {
            arg = arg.replace("$(JOB_COMPLETION_INDEX)", &k.to_string());
        }
        arg
    };
    for k in 0..n {
        let output = snapsift()
            .args(scan_args.iter().map(|a| here(a, Some(k))))
            .env("JOB_COMPLETION_INDEX", k.to_string())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "index {k}: {stderr}");
        assert!(stderr.is_empty(), "--quiet: {stderr}");
    }
    let shards = fs::read_dir(reports.join("snap-test")).unwrap().count();
    assert_eq!(shards as u64, n);

    let merge_args = manifest_args(&merge_job);
    let output = snapsift()
        .args(merge_args.iter().map(|a| here(a, None)))
        .output()
        .unwrap();
    assert_exit(&output, 0, "merge");
    let merged = fs::read_to_string(reports.join("snap-test.sarif")).unwrap();
    assert_eq!(merged, full_scan("sarif", &device));
    let sarif: Value = serde_json::from_str(&merged).unwrap();
    // The AWS pair, the URI, the ID in the archive.
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 3);
    assert_eq!(
        sarif["runs"][0]["invocations"][0]["executionSuccessful"],
        true
    );
}

/// The `command` of an AWS Batch job definition.
fn batch_command(file: &str) -> Vec<String> {
    let text = fs::read_to_string(root().join("docs/fleet/aws-batch").join(file)).unwrap();
    let definition: Value = serde_json::from_str(&text).unwrap();
    serde_json::from_value(definition["containerProperties"]["command"].clone()).unwrap()
}

#[test]
fn the_aws_batch_worker_scans_shards_and_merges_them_into_the_full_report() {
    let dir = workdir();
    let disk = test_disk(&dir);
    let device = LoopDevice::attach(&disk);
    let device_path = match &device {
        Ok(device) => device.device.clone(),
        Err(reason) => {
            unavailable(&format!(
                "loop devices unavailable, the image file is scanned instead: {reason}"
            ));
            disk.clone()
        }
    };
    let script = root().join("docs/fleet/aws-batch/snapsift-batch");
    let bin = Path::new(env!("CARGO_BIN_EXE_snapsift")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let (reports, work) = (path_in(&dir, "reports"), path_in(&dir, "work"));
    let worker = |command: &[String], index: Option<u64>| {
        assert_eq!(command[0], "snapsift-batch");
        let mut cmd = Command::new(&script);
        cmd.args(&command[1..])
            .env("PATH", &path)
            .env("SNAPSHOT_ID", "snap-test")
            .env("SHARDS", "3")
            .env("REPORTS", &reports)
            .env("SNAPSIFT_WORK", &work)
            .env("DEVICE", &device_path)
            .env_remove("AWS_BATCH_JOB_ARRAY_INDEX");
        if let Some(k) = index {
            cmd.env("AWS_BATCH_JOB_ARRAY_INDEX", k.to_string());
        }
        cmd.output().unwrap()
    };
    let scan = batch_command("scan-job-definition.json");
    for k in 0..3 {
        assert_exit(&worker(&scan, Some(k)), 0, &format!("shard {k}"));
        assert!(reports.join(format!("snap-test/shard-{k}.jsonl")).is_file());
    }
    assert_exit(
        &worker(&batch_command("merge-job-definition.json"), None),
        0,
        "merge",
    );
    let merged = fs::read_to_string(reports.join("snap-test.sarif")).unwrap();
    // Every shard named the disk by the link the worker made.
    let link = work.join("snapshots/snap-test");
    assert_eq!(merged, full_scan("sarif", &link));
    if device.is_ok() {
        // The worker set the device read-only in the kernel.
        let ro = Command::new("blockdev")
            .arg("--getro")
            .arg(&device_path)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&ro.stdout).trim(), "1");
    }

    // A shard missing: merge says so and exits 2, the report still written.
    fs::remove_file(reports.join("snap-test/shard-1.jsonl")).unwrap();
    let output = worker(&batch_command("merge-job-definition.json"), None);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("shard(s) 1 of 3 missing"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
