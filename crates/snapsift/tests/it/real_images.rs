//! Scans of real disk images made by real tools (`mkfs.ext4 -d`, `debugfs`, `sgdisk`,
//! `sfdisk`, `dd`): every planted secret is found exactly where a plain byte search (the
//! oracle) says it is, exactly once, whether it sits in a file, in a deleted file's freed
//! blocks or in unpartitioned space.

use std::path::Path;

use snapsift_testkit::{
    Secrets, dd_into, debugfs_rm, gpt_disk_with_root, mkfs_ext4, offsets_of, openssh_key,
    rsa_pem_key, run, sparse_file, workdir, write_at,
};

use crate::common::*;

const MIB: u64 = 1 << 20;

/// A secret planted in an image and the rule that must report it.
struct Planted {
    rule: &'static str,
    secret: String,
}

/// Builds an ext4 image holding secrets in files and in a deleted file; returns what it planted.
fn ext4_with_secrets(dir: &tempfile::TempDir, fs_image: &Path, seed: u64) -> Vec<Planted> {
    let mut secrets = Secrets::new(seed);
    let tree = path_in(dir, &format!("tree-{seed}"));
    let ssh_key = openssh_key(dir.path(), &format!("id_ed25519-{seed}"));
    let rsa_key = rsa_pem_key();
    let (aws, alibaba, pg, jdbc) = (
        secrets.aws_key_id(),
        secrets.alibaba_key_id(),
        secrets.postgres_uri(),
        secrets.jdbc_mysql_uri(),
    );
    let filler = String::from_utf8(secrets.filler(200_000)).unwrap();
    write_tree(
        &tree,
        &[
            ("root/.ssh/id_ed25519", ssh_key.clone()),
            (
                "root/.aws/credentials",
                format!("[default]\naws_access_key_id = {aws}\nregion = eu-west-1\n"),
            ),
            (
                "home/deploy/.bash_history",
                format!("ls -la\nexport ALIBABA_CLOUD_ACCESS_KEY_ID={alibaba}\nexit\n"),
            ),
            ("etc/app/config.yaml", format!("db:\n  url: {pg}\n")),
            ("var/log/app.log", filler),
            ("tmp/deploy/server.key", rsa_key.clone()),
            (
                "opt/app/application.properties",
                format!("spring.datasource.url={jdbc}\n"),
            ),
        ],
    );
    mkfs_ext4(fs_image, &tree, 16);
    // The key file is removed: its blocks are free but keep their bytes.
    debugfs_rm(fs_image, "/tmp/deploy/server.key");
    vec![
        Planted {
            rule: "private-key.openssh",
            secret: ssh_key.trim_end().to_owned(),
        },
        Planted {
            rule: "private-key.rsa",
            secret: rsa_key.trim_end().to_owned(),
        },
        Planted {
            rule: "aws.access-key-id",
            secret: aws,
        },
        Planted {
            rule: "alibaba.access-key-id",
            secret: alibaba,
        },
        Planted {
            rule: "connection-uri.password",
            secret: pg,
        },
        Planted {
            rule: "connection-uri.password",
            secret: jdbc,
        },
    ]
}

/// Scans `disk` and checks that the findings are exactly the planted secrets, each at every
/// offset the oracle finds it at and nowhere else. Returns the scan.
fn assert_found_exactly(disk: &Path, planted: &[Planted]) -> Scan {
    let scan = Scan::run(&[disk], &[]);
    assert_eq!(
        scan.code, 1,
        "exit status with findings; stderr: {}",
        scan.stderr
    );
    let found = scan.by_secret();
    let mut expected_total = 0;
    for p in planted {
        let oracle = offsets_of(disk, p.secret.as_bytes());
        assert!(
            !oracle.is_empty(),
            "the secret {:?} is not on the disk at all",
            p.secret
        );
        let (rule, offsets) = found
            .get(&p.secret)
            .unwrap_or_else(|| panic!("{} not found: {:?}", p.rule, p.secret));
        assert_eq!(rule, p.rule);
        assert_eq!(offsets, &oracle, "offsets of {:?}", p.secret);
        expected_total += oracle.len();
    }
    assert_eq!(
        scan.findings.len(),
        expected_total,
        "unexpected findings: {:?}",
        scan.findings
    );
    for f in &scan.findings {
        assert_eq!(
            f["length"].as_u64().unwrap(),
            f["secret"].as_str().unwrap().len() as u64
        );
        assert_eq!(f["image"].as_str().unwrap(), disk.to_str().unwrap());
    }
    scan
}

/// The `location` of the finding of `secret`.
fn location_of<'s>(scan: &'s Scan, secret: &str) -> &'s serde_json::Value {
    let finding = scan
        .findings
        .iter()
        .find(|f| f["secret"] == secret)
        .unwrap();
    &finding["location"]
}

#[test]
fn gpt_disk_with_ext4_deleted_file_and_free_space() {
    let dir = workdir();
    let fs_image = path_in(&dir, "fs.img");
    let mut planted = ext4_with_secrets(&dir, &fs_image, 1);
    let disk = path_in(&dir, "disk.img");
    gpt_disk_with_root(&disk, &fs_image);
    // Beyond the partition: data left in unpartitioned space.
    let leftover = Secrets::new(99).postgres_uri();
    write_at(
        &disk,
        20 * MIB + 12_345,
        format!("\n{leftover}\n").as_bytes(),
    );
    planted.push(Planted {
        rule: "connection-uri.password",
        secret: leftover.clone(),
    });
    let scan = assert_found_exactly(&disk, &planted);
    let attributed = assert_attributed_as_tsk_says(&disk, &scan, 2048);
    assert_eq!(
        attributed,
        planted.len() - 1,
        "every secret but the unpartitioned one"
    );
    assert_eq!(location_of(&scan, &leftover)["state"], "unpartitioned");
    let deleted = location_of(&scan, &planted[1].secret);
    assert_eq!(
        (&deleted["state"], &deleted["path"]),
        (&"deleted".into(), &"/tmp/deploy/server.key".into())
    );
}

/// Checks the file attribution of every finding in the ext4 partition starting at sector
/// `start_sector` against The Sleuth Kit: `ifind -d` names the inode that holds the
/// finding's block, `ffind` its path (`* ` before a deleted name). Returns the findings
/// checked.
fn assert_attributed_as_tsk_says(disk: &Path, scan: &Scan, start_sector: u64) -> usize {
    let d = disk.to_str().unwrap();
    let o = start_sector.to_string();
    let text = |program: &str, args: &[&str]| String::from_utf8(run(program, args).stdout).unwrap();
    let fsstat = text("fsstat", &["-o", &o, d]);
    let block_size: u64 = fsstat
        .lines()
        .find_map(|l| l.strip_prefix("Block Size: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut checked = 0;
    for f in &scan.findings {
        let location = &f["location"];
        let Some(volume_offset) = location["volume_offset"].as_u64() else {
            continue;
        };
        let block = (volume_offset / block_size).to_string();
        let inode: u64 = text("ifind", &["-o", &o, "-d", &block, d])
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("TSK finds no inode for block {block}: {f}"));
        assert_eq!(location["inode"], inode, "{f}");
        let path = text("ffind", &["-o", &o, d, &inode.to_string()]);
        let path = path.lines().next().unwrap();
        let (state, path) = match path.strip_prefix("* ") {
            Some(old) => ("deleted", old),
            None => ("allocated", path),
        };
        assert_eq!(location["path"], path, "{f}");
        assert_eq!(location["state"], state, "{f}");
        checked += 1;
    }
    checked
}

#[test]
fn mbr_disk_with_two_ext4_partitions() {
    let dir = workdir();
    let (fs1, fs2) = (path_in(&dir, "fs1.img"), path_in(&dir, "fs2.img"));
    let mut planted = ext4_with_secrets(&dir, &fs1, 2);
    planted.extend(ext4_with_secrets(&dir, &fs2, 3));
    let disk = path_in(&dir, "disk.img");
    sparse_file(&disk, 40 * MIB);
    let layout = "label: dos\nstart=2048, size=32768, type=83\nstart=36864, size=32768, type=83\n";
    let mut sfdisk = std::process::Command::new("sfdisk")
        .args(["-q", disk.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("sfdisk is installed");
    use std::io::Write;
    sfdisk
        .stdin
        .take()
        .unwrap()
        .write_all(layout.as_bytes())
        .unwrap();
    assert!(sfdisk.wait().unwrap().success());
    dd_into(&disk, &fs1, 2048 * 512);
    dd_into(&disk, &fs2, 36864 * 512);
    let scan = assert_found_exactly(&disk, &planted);
    let first = location_of(&scan, &planted[2].secret);
    let second = location_of(&scan, &planted[8].secret);
    assert_eq!(
        (&first["scheme"], &first["partition"]),
        (&"mbr".into(), &1.into())
    );
    assert_eq!(
        (&second["partition"], &second["partition_type"]),
        (&2.into(), &"0x83".into())
    );
    assert_eq!(second["filesystem"], "ext4");
}
