//! `snapsift scan` of a GPT disk (`sgdisk`) whose partition holds XFS made by `mkfs.xfs -p`
//! from a protofile: every planted secret is found once with its path, inode and state, in a
//! short-form directory, in a directory of 2000 entries (many directory blocks), deep in the tree, and inside a gzip file that the file pass decodes.

use std::fs;
use std::path::Path;

use snapsift_testkit::*;

use crate::common::*;

/// Makes `image` an XFS filesystem of 320 MiB holding the files under `tree` (`files`,
/// paths from the root), with `mkfs.xfs -p`.
fn mkfs_xfs(image: &Path, tree: &Path, files: &[String]) {
    // Each directory's entries in the protofile, then `$`; `files` are grouped by directory.
    let mut proto = String::from("boot\n0 0\nd--755 0 0\n");
    let mut open: Vec<String> = Vec::new();
    let mut sorted = files.to_vec();
    sorted.sort();
    for path in &sorted {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (name, dirs) = parts.split_last().unwrap();
        let common = open.iter().zip(dirs).take_while(|(a, b)| a == b).count();
        for _ in common..open.len() {
            proto.push_str("$\n");
        }
        open.truncate(common);
        for dir in &dirs[common..] {
            proto.push_str(&format!("{dir} d--755 0 0\n"));
            open.push(dir.to_string());
        }
        let host = tree.join(path.trim_start_matches('/'));
        proto.push_str(&format!("{name} ---600 0 0 {}\n", host.display()));
    }
    for _ in 0..=open.len() {
        proto.push_str("$\n");
    }
    let proto_path = image.with_extension("proto");
    fs::write(&proto_path, proto).unwrap();
    sparse_file(image, 320 << 20);
    let out = run(
        "mkfs.xfs",
        &[
            "-q",
            "-f",
            "-p",
            proto_path.to_str().unwrap(),
            image.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn secrets_in_xfs_on_gpt_are_found_with_their_paths() {
    let dir = workdir();
    let tree = path_in(&dir, "tree");
    let mut s = Secrets::new(61);
    let mut planted: Vec<(String, String)> = Vec::new();
    let mut files: Vec<(String, String)> = Vec::new();

    let key_id = s.aws_key_id();
    files.push((
        "/root/.aws/credentials".into(),
        format!(
            "[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {}\n",
            s.alnum(40)
        ),
    ));
    planted.push((key_id, "/root/.aws/credentials".into()));
    let uri = s.postgres_uri();
    files.push((
        "/srv/app/config/deep/er/still/.env".into(),
        format!("DATABASE_URL={uri}\n"),
    ));
    planted.push((uri, "/srv/app/config/deep/er/still/.env".into()));
    // A directory of 2000 entries, one of them with a secret.
    let ltai = s.alibaba_key_id();
    let many = "/var/spool/many/a-message-with-a-long-name-";
    for i in 0..2000 {
        let text = if i == 1234 {
            format!("ALIBABA_CLOUD_ACCESS_KEY_ID={ltai}\n")
        } else {
            format!("message {i}\n")
        };
        files.push((format!("{many}{i:04}"), text));
    }
    planted.push((ltai, format!("{many}1234")));
    let jdbc = s.jdbc_mysql_uri();
    let text: Vec<(&str, String)> = files.iter().map(|(p, c)| (&p[1..], c.clone())).collect();
    write_tree(&tree, &text);
    // A rotated log, gzipped: its secret is never on the disk as it reads.
    write_tree(
        &tree,
        &[(
            "var/log/app.log.2",
            format!("{}\njdbc={jdbc}\n", "boot ok\n".repeat(50)),
        )],
    );
    sh(&tree, "gzip -9 var/log/app.log.2");
    let mut paths: Vec<String> = files.into_iter().map(|(p, _)| p).collect();
    paths.push("/var/log/app.log.2.gz".into());

    let fs_image = dir.path().join("xfs.img");
    mkfs_xfs(&fs_image, &tree, &paths);
    assert!(offsets_of(&fs_image, jdbc.as_bytes()).is_empty());
    let image = dir.path().join("disk.img");
    sparse_file(&image, 330 << 20);
    let out = run(
        "sgdisk",
        &[
            "-n",
            "1:2048:+320M",
            "-t",
            "1:8300",
            image.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dd_into(&image, &fs_image, 1 << 20);

    let scan = Scan::run(&[&image], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    for (secret, path) in &planted {
        let found = scan.only(secret);
        let location = &found["location"];
        assert_eq!(location["path"], path.as_str(), "{found}");
        assert_eq!(location["filesystem"], "xfs", "{found}");
        assert_eq!(location["state"], "allocated", "{found}");
        assert!(location["inode"].as_u64().is_some(), "{found}");
        assert_eq!(location["partition"], 1, "{found}");
        // Found by the sweep, at the byte where the secret is.
        assert_eq!(
            vec![found["offset"].as_u64().unwrap()],
            offsets_of(&image, secret.as_bytes())
        );
    }
    let gz = scan.only(&jdbc);
    assert_eq!(gz["location"]["path"], "/var/log/app.log.2.gz", "{gz}");
    assert_eq!(gz["location"]["container"][0]["kind"], "gzip", "{gz}");
    assert!(gz["location"]["decoded_offset"].as_u64().is_some(), "{gz}");
    assert_eq!(
        scan.findings.len(),
        planted.len() + 1,
        "{:#?}",
        scan.findings
    );
    let coverage = &scan.coverage[0];
    assert_eq!(coverage["complete"], true, "{coverage}");
}
