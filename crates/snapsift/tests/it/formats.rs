//! Every image format gives the findings the same disk gives as raw: same rules, same secrets,
//! same offsets (virtual-disk offsets, whatever the container).

use std::path::{Path, PathBuf};

use snapsift_testkit::{Secrets, openssh_key, qemu_convert, qemu_io, qemu_overlay, run, workdir};

use crate::common::*;

const MIB: u64 = 1 << 20;

/// A raw disk of filler text with secrets planted across cluster and chunk boundaries, in
/// the first and last bytes, and in a long zero stretch. Returns its path.
fn raw_disk_with_secrets(dir: &Path) -> PathBuf {
    let mut secrets = Secrets::new(21);
    let size = 20 * MIB as usize;
    let mut bytes = secrets.filler(size);
    // A stretch of zeros, as a fresh disk has, with a secret in the middle of it.
    bytes[8 * MIB as usize..12 * MIB as usize].fill(0);
    let key = openssh_key(dir, "format_key");
    let plants: Vec<(usize, String)> = vec![
        (0, secrets.aws_key_id()),
        (65536 - 7, secrets.postgres_uri()),
        (3 * 65536 - 100, key.trim_end().to_owned()),
        (MIB as usize - 3, secrets.alibaba_key_id()),
        (10 * MIB as usize + 12345, secrets.jdbc_mysql_uri()),
        (size - 20, secrets.aws_key_id()),
    ];
    for (at, secret) in &plants {
        let line = format!("\n{secret}\n");
        let start = at.saturating_sub(1);
        let end = (start + line.len()).min(size);
        bytes[start..end].copy_from_slice(&line.as_bytes()[..end - start]);
    }
    let path = dir.join("disk.raw");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn convert(raw: &Path, format: &str, name: &str, extra: &[&str]) -> PathBuf {
    let out = raw.with_file_name(name);
    qemu_convert(raw, format, extra, &out);
    out
}

/// The findings of a scan of `image`, as (rule, offset, secret).
fn findings(image: &Path, extra: &[&str]) -> Vec<(String, u64, String)> {
    let scan = Scan::run(&[image], extra);
    assert_eq!(scan.code, 1, "{}: {}", image.display(), scan.stderr);
    scan.triples()
}

#[test]
fn qcow2_variants_find_what_raw_finds() {
    let dir = workdir();
    let raw = raw_disk_with_secrets(dir.path());
    let expected = findings(&raw, &[]);
    assert_eq!(expected.len(), 6);
    for (name, extra) in [
        ("plain.qcow2", vec![]),
        ("deflate.qcow2", vec!["-c"]),
        ("zstd.qcow2", vec!["-c", "-o", "compression_type=zstd"]),
        ("small-clusters.qcow2", vec!["-o", "cluster_size=4096"]),
        ("v2.qcow2", vec!["-o", "compat=0.10"]),
    ] {
        let image = convert(&raw, "qcow2", name, &extra);
        assert_eq!(findings(&image, &[]), expected, "{name}");
        assert_eq!(
            findings(&image, &["--chunk-size", "65536"]),
            expected,
            "{name}, small chunks"
        );
    }
}

#[test]
fn vhd_vhdx_vmdk_and_ova_find_what_raw_finds() {
    let dir = workdir();
    let raw = raw_disk_with_secrets(dir.path());
    let expected = findings(&raw, &[]);
    let mut images = Vec::new();
    for (format, name, options) in [
        ("vpc", "dynamic.vhd", "force_size=on"),
        ("vpc", "fixed.vhd", "subformat=fixed,force_size=on"),
        ("vhdx", "dynamic.vhdx", "block_size=1M"),
        ("vhdx", "fixed.vhdx", "subformat=fixed"),
        ("vmdk", "sparse.vmdk", "subformat=monolithicSparse"),
        ("vmdk", "stream.vmdk", "subformat=streamOptimized"),
        ("vmdk", "flat.vmdk", "subformat=monolithicFlat"),
    ] {
        images.push(convert(&raw, format, name, &["-o", options]));
    }
    // An OVA: a tar holding the descriptor and the streamOptimized disk.
    std::fs::write(dir.path().join("appliance.ovf"), "<Envelope/>\n").unwrap();
    let ova = dir.path().join("appliance.ova");
    run(
        "tar",
        &[
            "-cf",
            ova.to_str().unwrap(),
            "-C",
            dir.path().to_str().unwrap(),
            "appliance.ovf",
            "stream.vmdk",
        ],
    );
    images.push(ova);
    for image in &images {
        assert_eq!(findings(image, &[]), expected, "{}", image.display());
    }
}

#[test]
fn a_secret_written_only_into_an_overlay_is_found() {
    let dir = workdir();
    let raw = raw_disk_with_secrets(dir.path());
    let base = convert(&raw, "qcow2", "base.qcow2", &[]);
    let mid = dir.path().join("mid.qcow2");
    let top = dir.path().join("top.qcow2");
    qemu_overlay(&mid, "base.qcow2", "qcow2", true);
    qemu_overlay(&top, "mid.qcow2", "qcow2", true);
    let secret = Secrets::new(77).postgres_uri();
    let payload = dir.path().join("payload");
    std::fs::write(&payload, format!("\nDATABASE_URL={secret}\n")).unwrap();
    let command = format!(
        "write -s {} 5000000 {}",
        payload.display(),
        secret.len() + 15
    );
    qemu_io(&top, "qcow2", &[&command]);

    let found = findings(&top, &[]);
    let in_overlay: Vec<_> = found.iter().filter(|(_, _, s)| *s == secret).collect();
    assert_eq!(in_overlay.len(), 1, "{found:?}");
    assert_eq!(in_overlay[0].1, 5_000_000 + 14);
    // Everything the base holds is still seen through the chain.
    assert_eq!(found.len(), findings(&base, &[]).len() + 1);
}

#[test]
fn compressed_raw_streams_find_what_raw_finds() {
    let dir = workdir();
    let raw = raw_disk_with_secrets(dir.path());
    let expected = findings(&raw, &[]);
    let bytes = std::fs::read(&raw).unwrap();

    // Two zstd frames, as parallel compressors write.
    let zst = dir.path().join("disk.raw.zst");
    let half = bytes.len() / 2 + 12345;
    let mut framed = zstd::encode_all(&bytes[..half], 3).unwrap();
    framed.extend(zstd::encode_all(&bytes[half..], 3).unwrap());
    std::fs::write(&zst, framed).unwrap();

    let gz = dir.path().join("disk.img.gz");
    run(
        "sh",
        &[
            "-c",
            &format!("gzip -c {} > {}", raw.display(), gz.display()),
        ],
    );

    for image in [&zst, &gz] {
        assert_eq!(findings(image, &[]), expected, "{}", image.display());
        assert_eq!(
            findings(image, &["--chunk-size", "65536", "--threads", "1"]),
            expected
        );
    }
}

#[test]
fn a_corrupt_stream_stops_with_an_error_after_earlier_findings() {
    let dir = workdir();
    let raw = raw_disk_with_secrets(dir.path());
    let expected = findings(&raw, &[]);
    let zst = dir.path().join("cut.raw.zst");
    let compressed = zstd::encode_all(std::fs::read(&raw).unwrap().as_slice(), 3).unwrap();
    std::fs::write(&zst, &compressed[..compressed.len() * 3 / 4]).unwrap();
    let scan = Scan::run(&[&zst], &["--chunk-size", "65536"]);
    assert_eq!(scan.code, 2, "{}", scan.stderr);
    assert!(scan.stderr.contains("cut.raw.zst"), "{}", scan.stderr);
    assert!(
        scan.stderr.contains("cannot read the stream"),
        "{}",
        scan.stderr
    );
    // Every byte before the damage is scanned: the findings are the raw disk's up to there.
    let found = scan.triples();
    assert!(
        !found.is_empty() && found.len() < expected.len(),
        "{found:?}"
    );
    assert_eq!(found, expected[..found.len()]);
}

/// A GPT disk whose ext4 root holds a plain secret and one only the file pass finds (in a
/// gzip log), compressed as a whole by `zstd` and by `gzip`. Returns the raw disk, the two
/// streams, and the secret in the log.
fn streams_of_a_disk_with_files(dir: &Path) -> (PathBuf, [PathBuf; 2], String) {
    let mut secrets = Secrets::new(24);
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("etc")).unwrap();
    std::fs::create_dir_all(tree.join("var/log")).unwrap();
    let key_id = secrets.aws_key_id();
    std::fs::write(tree.join("etc/app.env"), format!("AWS_KEY={key_id}\n")).unwrap();
    let uri = secrets.postgres_uri();
    let log = tree.join("var/log/app.log.1");
    std::fs::write(
        &log,
        format!(
            "{}\nconnecting to {uri}\n",
            String::from_utf8_lossy(&secrets.filler(3000))
        ),
    )
    .unwrap();
    run("gzip", &[log.to_str().unwrap()]);
    let fs = dir.join("root.img");
    snapsift_testkit::mkfs_ext4(&fs, &tree, 16);
    let disk = dir.join("disk.img");
    snapsift_testkit::gpt_disk_with_root(&disk, &fs);
    let zst = dir.join("disk.img.zst");
    run(
        "zstd",
        &["-q", "-o", zst.to_str().unwrap(), disk.to_str().unwrap()],
    );
    let gz = dir.join("disk.img.gz");
    run(
        "sh",
        &[
            "-c",
            &format!("gzip -c {} > {}", disk.display(), gz.display()),
        ],
    );
    (disk, [zst, gz], uri)
}

/// The findings of `scan`, without the image's name (the one thing a stream's differ in).
fn without_image(scan: &Scan) -> Vec<serde_json::Value> {
    let mut findings = scan.findings.clone();
    for finding in &mut findings {
        finding.as_object_mut().unwrap().remove("image");
    }
    findings
}

#[test]
fn a_stream_spilled_to_a_temporary_file_gives_the_raw_disks_findings() {
    let dir = workdir();
    let (disk, streams, uri) = streams_of_a_disk_with_files(dir.path());
    let raw = Scan::run(&[&disk], &[]);
    assert_eq!(raw.code, 1, "{}", raw.stderr);
    assert_eq!(raw.only(&uri)["location"]["path"], "/var/log/app.log.1.gz");
    let spill = dir.path().join("spill");
    std::fs::create_dir(&spill).unwrap();
    let spill_arg = spill.to_str().unwrap();
    for stream in &streams {
        let scan = Scan::run(&[stream], &["--spill-dir", spill_arg]);
        assert_eq!(scan.code, 1, "{}", scan.stderr);
        assert_eq!(
            without_image(&scan),
            without_image(&raw),
            "{}",
            stream.display()
        );
        assert_eq!(scan.coverage[0]["complete"], true);
        // Sparse: the zeros of the 24 MiB disk were not written (they are holes, not read).
        let data = |s: &Scan| s.coverage[0]["data_bytes"].as_u64().unwrap();
        assert!(data(&scan) < data(&raw) + (1 << 20), "{}", scan.coverage[0]);
        assert_eq!(scan.coverage[0]["disk_size"], raw.coverage[0]["disk_size"]);
        // The spill file never had a name, and is gone.
        assert_eq!(std::fs::read_dir(&spill).unwrap().count(), 0);

        // Swept as it is, the stream misses what only its files show, and says how to get it.
        let swept = Scan::run(&[stream], &[]);
        assert_eq!(swept.code, 1, "{}", swept.stderr);
        assert!(swept.findings.iter().all(|f| f["secret"] != uri.as_str()));
        assert!(
            swept.stderr.contains("--spill-dir DIR decompresses it"),
            "{}",
            swept.stderr
        );
    }
}

#[test]
fn a_spill_that_cannot_be_made_or_written_is_a_clear_error() {
    let dir = workdir();
    let (_, [zst, _], _) = streams_of_a_disk_with_files(dir.path());
    let missing = dir.path().join("no-such-dir");
    let (code, _, stderr) = snapsift_run(&[
        "scan",
        "--spill-dir",
        missing.to_str().unwrap(),
        zst.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot spill the decompressed image to a temporary file in {}",
            missing.display()
        )),
        "{stderr}"
    );
    // No space for the whole image (a file size limit stands for a full disk here).
    let spill = dir.path().join("spill");
    std::fs::create_dir(&spill).unwrap();
    let script = format!(
        "trap '' XFSZ; ulimit -f 2048; exec {} scan --spill-dir {} {}",
        env!("CARGO_BIN_EXE_snapsift"),
        spill.display(),
        zst.display()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("File too large"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(std::fs::read_dir(&spill).unwrap().count(), 0);
}
