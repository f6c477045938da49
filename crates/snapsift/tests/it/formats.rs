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
