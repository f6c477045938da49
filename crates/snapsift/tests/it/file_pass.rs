//! The file pass end to end: an ext4 image made by `mkfs.ext4 -d` from a tree whose secrets
//! a byte sweep cannot see (inside gzip, xz, bzip2 and zstd files, a war holding a jar, a
//! tar.gz, UTF-16 text, a deleted gzip file, a file fragmented by `debugfs`) and one it can
//! see but not name (a member of a plain tar). Every secret is found exactly once, with its
//! file, its chain of containers and its encoding; a secret the sweep also sees is reported
//! once, with the archive member's name.

use std::fs;

use serde_json::Value;
use snapsift_testkit::{Secrets, debugfs_rm, debugfs_script, mkfs_ext4, offsets_of, sh, workdir};

use crate::common::*;

/// The path with members of a finding's location, and its container kinds.
fn chain(finding: &Value) -> (String, Vec<String>) {
    let location = &finding["location"];
    let mut path = location["path"].as_str().unwrap_or("?").to_owned();
    let mut kinds = Vec::new();
    for layer in location["container"].as_array().into_iter().flatten() {
        kinds.push(layer["kind"].as_str().unwrap().to_owned());
        if let Some(member) = layer["member"].as_str() {
            path.push_str("!/");
            path.push_str(member);
        }
    }
    (path, kinds)
}

#[test]
fn secrets_in_compressed_archived_utf16_deleted_and_fragmented_files() {
    let dir = workdir();
    let mut s = Secrets::new(50);
    let tree = path_in(&dir, "tree");
    let work = path_in(&dir, "work");
    fs::create_dir_all(&work).unwrap();
    let mut expected: Vec<(String, &str, Vec<&str>)> = Vec::new();

    // A rotated log, gzipped.
    let gz = s.aws_key_id();
    write_tree(
        &tree,
        &[("var/log/app.log.2", format!("boot ok\nkey={gz}\n"))],
    );
    sh(&tree, "gzip -9 var/log/app.log.2");
    expected.push((gz, "/var/log/app.log.2.gz", vec!["gzip"]));

    // xz, bzip2 and zstd.
    for (tool, ext, kind) in [
        ("xz", "xz", "xz"),
        ("bzip2", "bz2", "bzip2"),
        ("zstd -q --rm", "zst", "zstd"),
    ] {
        let secret = s.alibaba_key_id();
        let name = format!("srv/dump-{kind}.txt");
        write_tree(
            &tree,
            &[(&name, format!("ALIBABA_CLOUD_ACCESS_KEY_ID={secret}\n"))],
        );
        sh(&tree, &format!("{tool} {name}"));
        let path: &str = Box::leak(format!("/{name}.{ext}").into_boxed_str());
        expected.push((secret, path, vec![kind]));
    }

    // A jar (deflated) stored in a war: two zips deep.
    let ltai = s.alibaba_key_id();
    write_tree(
        &work,
        &[(
            "jar/BOOT-INF/classes/application.properties",
            format!("aliyun.access-key-id={ltai}\nserver.port=8080\n"),
        )],
    );
    sh(&work, "cd jar && zip -qr ../billing.jar BOOT-INF");
    sh(
        &work,
        "mkdir -p war/WEB-INF/lib && cp billing.jar war/WEB-INF/lib/ && cd war && zip -qr0 ../billing.war WEB-INF",
    );
    fs::create_dir_all(tree.join("opt/billing")).unwrap();
    fs::copy(
        work.join("billing.war"),
        tree.join("opt/billing/billing.war"),
    )
    .unwrap();
    expected.push((
        ltai,
        "/opt/billing/billing.war!/WEB-INF/lib/billing.jar!/BOOT-INF/classes/application.properties",
        vec!["zip", "zip"],
    ));

    // A tar.gz of a home directory.
    let history = s.aws_key_id();
    write_tree(
        &work,
        &[(
            "home/ops/.bash_history",
            format!("aws configure\nexport AWS_ACCESS_KEY_ID={history}\n"),
        )],
    );
    fs::create_dir_all(tree.join("backup")).unwrap();
    sh(
        &work,
        &format!("tar czf {} home", tree.join("backup/home.tar.gz").display()),
    );
    expected.push((
        history,
        "/backup/home.tar.gz!/home/ops/.bash_history",
        vec!["gzip", "tar"],
    ));

    // UTF-16LE text with a byte order mark, as Windows tools write it.
    let utf16 = s.aws_key_id();
    write_tree(
        &work,
        &[(
            "notes.txt",
            format!("\u{feff}Deploy notes\r\nkey: {utf16}\r\n"),
        )],
    );
    sh(
        &work,
        &format!(
            "iconv -f UTF-8 -t UTF-16LE notes.txt > {}",
            tree.join("srv/notes-utf16.txt").display()
        ),
    );
    expected.push((utf16, "/srv/notes-utf16.txt", vec!["utf-16le"]));

    // A plain tar: the sweep sees the member's bytes; the file pass names the member.
    let stored = s.postgres_uri();
    write_tree(&work, &[("etc/app/db.conf", format!("url = {stored}\n"))]);
    sh(
        &work,
        &format!("tar cf {} etc", tree.join("srv/etc-backup.tar").display()),
    );

    // A gzip file that will be deleted.
    let deleted = s.jdbc_mysql_uri();
    write_tree(&tree, &[("tmp/old.sql", format!("-- {deleted}\n"))]);
    sh(&tree, "gzip tmp/old.sql");

    // Files to delete, leaving holes for the fragmented file.
    for i in 0..40 {
        write_tree(
            &tree,
            &[(
                &format!("spread/s{i:03}"),
                String::from_utf8(s.filler(2048)).unwrap(),
            )],
        );
    }

    let image = path_in(&dir, "ext4.img");
    mkfs_ext4(&image, &tree, 32);
    debugfs_rm(&image, "/tmp/old.sql.gz");
    let mut commands = String::new();
    for i in (0..40).step_by(2) {
        commands.push_str(&format!("rm /spread/s{i:03}\n"));
    }
    // /frag fills the 2 KiB holes: a secret across every 1 KiB boundary.
    let mut frag = s.filler(16 * 1024);
    let mut across = Vec::new();
    for k in 1..8u64 {
        let secret = s.aws_key_id();
        let at = (k * 2048 - 10) as usize;
        frag[at - 1] = b' ';
        frag[at..at + secret.len()].copy_from_slice(secret.as_bytes());
        frag[at + secret.len()] = b' ';
        across.push(secret);
    }
    fs::write(work.join("frag"), &frag).unwrap();
    commands.push_str(&format!("write {} frag\n", work.join("frag").display()));
    debugfs_script(&image, &commands);

    let scan = Scan::run(&[&image], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);

    let mut stored_in_compressed = 0;
    for (secret, path, kinds) in &expected {
        let finding = scan.only(secret);
        assert_eq!(
            chain(finding),
            (
                path.to_string(),
                kinds.iter().map(|k| k.to_string()).collect()
            ),
            "{finding}"
        );
        assert_eq!(finding["location"]["state"], "allocated");
        assert!(finding["location"]["inode"].as_u64().is_some());
        // Compressors store what they cannot shrink (a short xz file is one stored chunk):
        // then the secret is also on the disk, found once, at its exact offset.
        // Zip stores a member deflate cannot shrink, too.
        match offsets_of(&image, secret.as_bytes()).as_slice() {
            [] => assert!(
                finding["location"]["decoded_offset"].as_u64().is_some(),
                "{finding}"
            ),
            [at] => {
                assert_eq!(finding["offset"], *at, "{finding}");
                stored_in_compressed += 1;
            }
            more => panic!("{secret} at {more:?}"),
        }
    }
    let utf16_secret = &expected
        .iter()
        .find(|e| e.1 == "/srv/notes-utf16.txt")
        .unwrap()
        .0;
    let encoded = scan.only(utf16_secret);
    assert_eq!(encoded["location"]["encoding"], "utf-16le");
    // The sweep reads UTF-16LE text too: the finding has the exact place of the wide bytes.
    let wide: Vec<u8> = utf16_secret
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    assert_eq!(
        offsets_of(&image, &wide),
        [encoded["offset"].as_u64().unwrap()]
    );
    assert_eq!(encoded["length"], wide.len());
    assert_eq!(encoded["encoding"], "utf-16le");

    // The stored member: one finding at the byte the sweep sees, named by the file pass.
    let member = scan.only(&stored);
    assert_eq!(
        chain(member),
        (
            "/srv/etc-backup.tar!/etc/app/db.conf".into(),
            vec!["tar".into()]
        )
    );
    assert_eq!(
        vec![member["offset"].as_u64().unwrap()],
        offsets_of(&image, stored.as_bytes())
    );
    assert!(member["location"]["decoded_offset"].is_null());

    // The deleted gzip file: decoded from the blocks its inode still records.
    let old = scan.only(&deleted);
    assert_eq!(chain(old), ("/tmp/old.sql.gz".into(), vec!["gzip".into()]));
    assert_eq!(old["location"]["state"], "deleted");

    // The fragmented file: every secret once, in /frag; some lie across two pieces.
    let mut split = 0;
    for secret in &across {
        let finding = scan.only(secret);
        assert_eq!(finding["location"]["path"], "/frag", "{finding}");
        if offsets_of(&image, secret.as_bytes()).is_empty() {
            split += 1;
        }
    }
    assert!(split >= 1, "no secret of /frag lies across a seam");

    let total = expected.len() + 2 + across.len();
    assert_eq!(scan.findings.len(), total, "{:#?}", scan.findings);

    // Without the file pass, only what lies on the disk is found (as bytes or UTF-16LE text),
    // with the tar as its file.
    let sweep = Scan::run(&[&image], &["--no-file-pass"]);
    assert_eq!(
        sweep.only(&stored)["location"]["path"],
        "/srv/etc-backup.tar"
    );
    assert_eq!(sweep.only(utf16_secret)["encoding"], "utf-16le");
    assert_eq!(
        sweep.findings.len(),
        2 + stored_in_compressed + across.len() - split
    );
}
