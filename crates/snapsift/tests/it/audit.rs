//! `snapsift audit` on ext4 images made by `mkfs.ext4 -d` from a planted tree (an unclean
//! instance: a user with a password made by `openssl passwd -6`, `authorized_keys` for root
//! and a user made by `ssh-keygen`, host keys, histories, `/tmp` files, cloud-init user data,
//! a machine ID, a file deleted with debugfs) and from the same tree cleaned as the
//! checklist says: the first fails on each planted item with its evidence, the second passes.

use std::fs;
use std::path::Path;

use serde_json::Value;
use snapsift_testkit::{debugfs_rm, mkfs_ext4, run, run_stdout, workdir, write_file};

use crate::common::snapsift_run;

/// `ssh-keygen -t ed25519` into `dir/name` (and `.pub`), with `comment`; returns the
/// fingerprint `ssh-keygen -lf` gives (the oracle of the audit's own).
pub(crate) fn keygen(dir: &Path, name: &str, comment: &str) -> String {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let path = path.to_str().unwrap();
    run(
        "ssh-keygen",
        &["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path],
    );
    let listed = run_stdout("ssh-keygen", &["-lf", &format!("{path}.pub")]);
    listed.split_whitespace().nth(1).unwrap().to_owned()
}

/// The tree every image shares: accounts without passwords, sshd's configuration.
pub(crate) fn base_tree(root: &Path) {
    write_file(
        root,
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n",
    );
    write_file(
        root,
        "etc/shadow",
        "root:*:20000:0:99999:7:::\nsshd:!:20000::::::\n",
    );
    write_file(
        root,
        "etc/ssh/sshd_config",
        "PermitRootLogin prohibit-password\nAuthorizedKeysFile .ssh/authorized_keys /etc/ssh/authorized_keys/%u\n",
    );
    write_file(root, "etc/machine-id", "");
    fs::create_dir_all(root.join("tmp")).unwrap();
    fs::create_dir_all(root.join("root")).unwrap();
}

/// What the planted image holds, as the audit must report it.
pub(crate) struct Planted {
    pub(crate) root_key: String,
    pub(crate) alice_key: String,
    pub(crate) host_key: String,
    pub(crate) hash: String,
}

/// An unclean instance's tree, on top of [`base_tree`].
pub(crate) fn plant(root: &Path) -> Planted {
    let hash = run_stdout(
        "openssl",
        &[
            "passwd",
            "-6",
            "-salt",
            "audittestsalt",
            "generated-pw-4821",
        ],
    );
    let hash = hash.trim().to_owned();
    write_file(
        root,
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n\
         alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n",
    );
    write_file(
        root,
        "etc/shadow",
        format!("root:*:20000:0:99999:7:::\nsshd:!:20000::::::\nalice:{hash}:20000:0:99999:7:::\n"),
    );
    let keys = workdir();
    let root_key = keygen(keys.path(), "root", "admin@laptop");
    let alice_key = keygen(&root.join("home/alice/.ssh"), "id_ed25519", "alice@build");
    let root_pub = fs::read_to_string(keys.path().join("root.pub")).unwrap();
    write_file(
        root,
        "root/.ssh/authorized_keys",
        format!("no-pty,from=\"10.0.0.0/8\" {root_pub}"),
    );
    let alice_pub = fs::read_to_string(root.join("home/alice/.ssh/id_ed25519.pub")).unwrap();
    // Named only by sshd_config's AuthorizedKeysFile.
    write_file(root, "etc/ssh/authorized_keys/alice", &alice_pub);
    let host_key = keygen(&root.join("etc/ssh"), "ssh_host_ed25519_key", "root@image");
    write_file(root, "root/.bash_history", "mysql -u root -p\nls\n");
    write_file(root, "home/alice/.python_history", "import os\n");
    write_file(root, "tmp/build.log", "building...\n");
    write_file(root, "tmp/\x1b]0;pwned\x07", "x");
    write_file(
        root,
        "var/lib/cloud/instance/user-data.txt",
        "#cloud-config\nchpasswd: {}\n",
    );
    write_file(root, "etc/machine-id", "5f3e0c2a9b7d4e1f8a6c3b2d1e0f9a8b\n");
    write_file(
        root,
        "home/alice/notes.txt",
        "the staging database is db-3\n".repeat(20),
    );
    Planted {
        root_key,
        alice_key,
        host_key,
        hash,
    }
}

/// Runs `snapsift audit --format json -q ARGS... IMAGE`: (exit status, document, as written).
pub(crate) fn audit_json(image: &Path, args: &[&str]) -> (i32, Value, String) {
    audit_document("json", image, args)
}

/// Runs `snapsift audit --format FORMAT -q ARGS... IMAGE` (a JSON format: `json`, `sarif`):
/// (exit status, document, as written).
pub(crate) fn audit_document(format: &str, image: &Path, args: &[&str]) -> (i32, Value, String) {
    let mut all = vec!["audit", "-q", "--format", format];
    all.extend_from_slice(args);
    all.push(image.to_str().unwrap());
    let (code, stdout, stderr) = snapsift_run(&all);
    let document: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    (code, document, stdout)
}

/// The item `id` of the first image.
pub(crate) fn item<'a>(document: &'a Value, id: &str) -> &'a Value {
    document["images"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("no item {id}"))
}

/// The evidence of item `id` with `key` set, as (path, value of key).
pub(crate) fn evidence(document: &Value, id: &str, key: &str) -> Vec<(String, String)> {
    item(document, id)["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.get(key).is_some())
        .map(|e| {
            (
                e["path"].as_str().unwrap_or("").to_owned(),
                e[key]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| e[key].to_string()),
            )
        })
        .collect()
}

#[test]
fn a_planted_image_fails_on_each_item_and_the_cleaned_one_passes() {
    let dir = workdir();
    let tree = dir.path().join("planted");
    base_tree(&tree);
    let planted = plant(&tree);
    let image = dir.path().join("planted.img");
    mkfs_ext4(&image, &tree, 32);
    debugfs_rm(&image, "/home/alice/notes.txt");

    let (code, document, json) = audit_json(&image, &[]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(document["audit_version"], 1);
    assert_eq!(document["images"][0]["status"], "fail");
    let status = |id: &str| item(&document, id)["status"].as_str().unwrap().to_owned();
    for id in [
        "accounts.passwords",
        "ssh.authorized-keys",
        "ssh.host-keys",
        "ssh.user-keys",
        "history.files",
        "temporary.tmp",
        "temporary.cloud-init",
        "identity.machine-id",
        "residual.deleted-files",
        "credentials.hard-coded",
    ] {
        assert_eq!(status(id), "fail", "{id}: {}", item(&document, id));
    }
    assert_eq!(status("accounts.login-shells"), "warn");
    assert_eq!(status("accounts.uid0"), "pass");
    // The hash is reduced to its scheme, never printed.
    assert_eq!(
        evidence(&document, "accounts.passwords", "user"),
        [("/etc/shadow".to_owned(), "alice".to_owned())]
    );
    assert!(
        item(&document, "accounts.passwords")
            .to_string()
            .contains("sha512-crypt")
    );
    assert!(
        !json.contains(&planted.hash[20..]),
        "the hash is in the report"
    );
    // Every key, with the fingerprint ssh-keygen gives, and its owner, comment and options.
    let keys = evidence(&document, "ssh.authorized-keys", "fingerprint");
    assert_eq!(
        keys,
        [
            (
                "/etc/ssh/authorized_keys/alice".to_owned(),
                planted.alice_key.clone()
            ),
            (
                "/root/.ssh/authorized_keys".to_owned(),
                planted.root_key.clone()
            ),
        ]
    );
    let root_entry = item(&document, "ssh.authorized-keys")["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "/root/.ssh/authorized_keys")
        .unwrap()
        .clone();
    assert_eq!(root_entry["user"], "root");
    assert_eq!(root_entry["key_type"], "ed25519");
    assert_eq!(root_entry["comment"], "admin@laptop");
    assert_eq!(root_entry["options"], "no-pty,from=\"10.0.0.0/8\"");
    assert_eq!(
        evidence(&document, "ssh.host-keys", "fingerprint"),
        [("/etc/ssh/ssh_host_ed25519_key".to_owned(), planted.host_key)]
    );
    assert_eq!(
        evidence(&document, "ssh.user-keys", "fingerprint"),
        [("/home/alice/.ssh/id_ed25519".to_owned(), planted.alice_key)]
    );
    let mut histories = evidence(&document, "history.files", "user");
    histories.sort();
    assert_eq!(
        histories,
        [
            ("/home/alice/.python_history".to_owned(), "alice".to_owned()),
            ("/root/.bash_history".to_owned(), "root".to_owned()),
        ]
    );
    assert_eq!(item(&document, "temporary.tmp")["evidence"][0]["count"], 2);
    assert_eq!(
        evidence(&document, "temporary.cloud-init", "bytes")[0].0,
        "/var/lib/cloud/instance/user-data.txt"
    );
    assert_eq!(
        evidence(&document, "identity.machine-id", "bytes")[0].0,
        "/etc/machine-id"
    );
    let deleted = item(&document, "residual.deleted-files");
    assert_eq!(deleted["evidence"][0]["count"], 1, "{deleted}");
    assert_eq!(
        deleted["evidence"][1]["path"], "/home/alice/notes.txt",
        "{deleted}"
    );
    // The secret scan finds the user's private key; its value is not in the report.
    let found = evidence(&document, "credentials.hard-coded", "rule");
    assert!(
        found
            .iter()
            .any(|(p, _)| p == "/home/alice/.ssh/id_ed25519"),
        "{found:?}"
    );
    assert!(!json.contains("\"secret\""), "a secret is in the report");
    let private = fs::read_to_string(tree.join("home/alice/.ssh/id_ed25519")).unwrap();
    let body_line = private.lines().nth(2).unwrap();
    assert!(!json.contains(body_line));
    // With --show-secrets it is; with --redact too, masked.
    let (_, _, shown) = audit_json(&image, &["--show-secrets"]);
    assert!(shown.contains(body_line), "--show-secrets shows no secret");
    let (_, _, masked) = audit_json(&image, &["--show-secrets", "--redact"]);
    assert!(masked.contains("\"secret\"") && !masked.contains(body_line));

    // The text checklist: failed items first, names escaped.
    let (code, text, _) = snapsift_run(&["audit", "-q", image.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text}");
    let first_pass = text.find("[pass]").unwrap();
    assert!(text.rfind("[FAIL]").unwrap() < first_pass, "{text}");
    assert!(
        text.contains("fix: Delete every authorized_keys file"),
        "{text}"
    );
    let (code, _, _) =
        snapsift_run(&["audit", "-q", "--fail-on", "never", image.to_str().unwrap()]);
    assert_eq!(code, 0);

    // The same tree cleaned as the checklist says.
    let clean = dir.path().join("clean");
    base_tree(&clean);
    let clean_image = dir.path().join("clean.img");
    mkfs_ext4(&clean_image, &clean, 32);
    let (code, document, json) = audit_json(&clean_image, &["--fail-on", "warn"]);
    assert_eq!(code, 0, "{json}");
    for item in document["images"][0]["items"].as_array().unwrap() {
        assert_eq!(item["status"], "pass", "{item}");
    }
}

#[test]
fn images_that_cannot_be_audited_are_errors() {
    let dir = workdir();
    let tree = dir.path().join("t");
    base_tree(&tree);
    let image = dir.path().join("fs.img");
    mkfs_ext4(&image, &tree, 16);
    let compressed = dir.path().join("fs.img.zst");
    run(
        "zstd",
        &[
            "-q",
            image.to_str().unwrap(),
            "-o",
            compressed.to_str().unwrap(),
        ],
    );
    let (code, document, _) = audit_json(&compressed, &[]);
    assert_eq!(code, 2);
    let error = document["images"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("decompress it first (--spill-dir DIR)"),
        "{error}"
    );
    // With a directory to spill it to, it is audited as the uncompressed image is.
    let spill = dir.path().join("spill");
    fs::create_dir(&spill).unwrap();
    let (code, spilled, json) = audit_json(&compressed, &["--spill-dir", spill.to_str().unwrap()]);
    let (raw_code, raw, _) = audit_json(&image, &[]);
    assert_eq!(code, raw_code, "{json}");
    assert_eq!(spilled["images"][0]["items"], raw["images"][0]["items"]);
    assert_eq!(fs::read_dir(&spill).unwrap().count(), 0);
    let zeros = dir.path().join("zeros.img");
    fs::write(&zeros, vec![0u8; 1 << 20]).unwrap();
    let (code, document, _) = audit_json(&zeros, &["--fail-on", "never"]);
    assert_eq!(code, 2);
    assert!(
        document["images"][0]["error"]
            .as_str()
            .unwrap()
            .contains("no filesystem")
    );
}

#[test]
fn a_team_check_file_adds_checks() {
    let dir = workdir();
    let tree = dir.path().join("t");
    base_tree(&tree);
    write_file(&tree, "srv/app/terraform.tfstate", "{}");
    let image = dir.path().join("fs.img");
    mkfs_ext4(&image, &tree, 16);
    let checks = write_file(
        dir.path(),
        "team.toml",
        "[[check]]\nid = \"team.tfstate\"\ntitle = \"Terraform state\"\ncategory = \"team\"\n\
         kind = \"files\"\npaths = [\"/**/terraform.tfstate\"]\nstatus = \"warn\"\n\
         remediation = \"Remove terraform.tfstate\"\n",
    );
    let (code, document, _) = audit_json(
        &image,
        &["--checks", checks.to_str().unwrap(), "--fail-on", "warn"],
    );
    assert_eq!(code, 1);
    assert_eq!(
        evidence(&document, "team.tfstate", "bytes"),
        [("/srv/app/terraform.tfstate".to_owned(), "2".to_owned())]
    );
    let bad = write_file(dir.path(), "bad.toml", "[[check]]\nid = \"x\"\n");
    let (code, _, stderr) = snapsift_run(&[
        "audit",
        "--checks",
        bad.to_str().unwrap(),
        image.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("bad.toml"), "{stderr}");
}

/// A 10 GiB `.bash_history` (sparse: its data at both ends), a `shadow` file past the read bound and 150,000
/// accounts: the audit reads what it must up to its bounds, says what it cut, and its memory
/// stays far below the files' sizes.
#[test]
fn huge_files_are_read_up_to_a_bound_and_say_so() {
    let dir = workdir();
    let tree = dir.path().join("t");
    base_tree(&tree);
    // Data at both ends, a hole between (a file of holes only is not listed: no content).
    let history = tree.join("root/.bash_history");
    write_file(&tree, "root/.bash_history", "ls\n");
    snapsift_testkit::write_at(&history, (10 << 30) - 4, b"pwd\n");
    let mut shadow = String::from("root:*:1::::::\n");
    let mut n = 0u64;
    while shadow.len() < 72 << 20 {
        shadow.push_str(&format!("u{n}:$1$s$x:1::::::\n"));
        n += 1;
    }
    write_file(&tree, "etc/shadow", &shadow);
    let passwd: String = (0..150_000)
        .map(|i| format!("u{i}:x:{i}:1::/srv/u{i}:/usr/sbin/nologin\n"))
        .collect();
    write_file(
        &tree,
        "etc/passwd",
        format!("root:x:0:0::/root:/bin/bash\n{passwd}"),
    );
    let image = dir.path().join("fs.img");
    mkfs_ext4(&image, &tree, 160);
    let output = std::process::Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_snapsift"))
        .args(["audit", "-q", "--format", "json", image.to_str().unwrap()])
        .output()
        .expect("GNU time is installed (apt-get install time)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let rss_kib: u64 = stderr.lines().last().unwrap().trim().parse().unwrap();
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let history = evidence(&document, "history.files", "bytes");
    assert_eq!(
        history,
        [("/root/.bash_history".to_owned(), (10u64 << 30).to_string())]
    );
    let passwords = item(&document, "accounts.passwords");
    assert_eq!(passwords["status"], "fail");
    let cut = &passwords["evidence"][0];
    assert!(
        cut["detail"]
            .as_str()
            .unwrap()
            .contains("only its first 67108864 of"),
        "{cut}"
    );
    assert_eq!(passwords["evidence"].as_array().unwrap().len(), 100);
    let omitted = passwords["evidence_omitted"].as_u64().unwrap();
    assert!(omitted > 2_000_000, "{omitted}");
    let keys = item(&document, "ssh.authorized-keys");
    assert_eq!(keys["status"], "warn", "{}", keys["evidence"][0]);
    // root and 150,000 more: 50,001 past the first 100,000.
    assert_eq!(keys["evidence"][0]["count"], 50_001);
    eprintln!("peak RSS: {} MiB", rss_kib / 1024);
    assert!(rss_kib < 512 * 1024, "peak RSS {rss_kib} KiB");
}

/// A bad sector under `/etc/shadow`: its item cannot pass (the file was not read) and says
/// why, and the secret scan's item says its scan is partial.
#[test]
fn unreadable_files_are_warnings_not_passes() {
    let dir = workdir();
    let tree = dir.path().join("t");
    base_tree(&tree);
    let marker = "unreadable-shadow-marker-7731";
    // The bad byte mid-way through 2 MiB of comments: the kernel's reads around it (FUSE
    // reads ahead) touch no block the filesystem map reads.
    let padding = "# padding\n".repeat(100_000);
    write_file(
        &tree,
        "etc/shadow",
        format!("root:*:1::::::\n{padding}# {marker}\n{padding}"),
    );
    let image = dir.path().join("fs.img");
    mkfs_ext4(&image, &tree, 64);
    let at = snapsift_testkit::offsets_of(&image, marker.as_bytes());
    assert_eq!(at.len(), 1);
    let faulty = crate::common::faulty::FaultyFile::mount(&image, at[0]..at[0] + 1, dir.path());
    let (code, document, _) = audit_json(&faulty.path, &[]);
    assert_eq!(code, 0, "warnings only: {}", document["images"][0]["error"]);
    let passwords = item(&document, "accounts.passwords");
    assert_eq!(passwords["status"], "warn", "{passwords}");
    let detail = passwords["evidence"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("cannot be read"), "{detail}");
    let secrets = item(&document, "credentials.hard-coded");
    assert_eq!(secrets["status"], "warn", "{secrets}");
    let detail = secrets["evidence"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("the secret scan is partial"), "{detail}");
    let (code, _, _) = audit_json(&faulty.path, &["--fail-on", "warn"]);
    assert_eq!(code, 1);
}

#[test]
fn a_home_on_its_own_partition_is_checked_where_fstab_mounts_it() {
    let dir = workdir();
    let root = dir.path().join("root");
    base_tree(&root);
    write_file(
        &root,
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\ndeploy:x:1000:1000::/home/deploy:/bin/bash\n",
    );
    fs::create_dir_all(root.join("home")).unwrap();
    let uuid = "6f1c1a0e-2d2b-4c55-9a4e-0b8a9d6f3e21";
    let home = dir.path().join("home");
    let key = keygen(&home, "deploy/.ssh/id_ed25519", "deploy@laptop");
    let public = fs::read_to_string(home.join("deploy/.ssh/id_ed25519.pub")).unwrap();
    fs::remove_file(home.join("deploy/.ssh/id_ed25519")).unwrap();
    write_file(&home, "deploy/.ssh/authorized_keys", &public);
    write_file(&home, "deploy/.bash_history", "ls\nexit\n");
    let home_fs = dir.path().join("home.img");
    snapsift_testkit::mkfs_from_tree(
        "mkfs.ext4",
        &home_fs,
        &home,
        "8M",
        &["-U", uuid, "-L", "home"],
    );
    let disk = dir.path().join("disk.img");
    for spec in [format!("UUID={uuid}"), "LABEL=home".to_owned()] {
        write_file(
            &root,
            "etc/fstab",
            format!(
                "# <fs> <mount point> <type>\nLABEL=root / ext4 defaults 0 1\n{spec} /home ext4 defaults 0 2\n"
            ),
        );
        let root_fs = dir.path().join("root.img");
        mkfs_ext4(&root_fs, &root, 16);
        snapsift_testkit::gpt_disk(&disk, 32 << 20, &["-n", "1:2048:+16M", "-n", "2:0:+8M"]);
        snapsift_testkit::dd_into(&disk, &root_fs, 1 << 20);
        snapsift_testkit::dd_into(&disk, &home_fs, 17 << 20);
        let (code, document, json) = audit_json(&disk, &[]);
        assert_eq!(code, 1, "{json}");
        let keys = evidence(&document, "ssh.authorized-keys", "fingerprint");
        assert_eq!(
            keys,
            [("/home/deploy/.ssh/authorized_keys".to_owned(), key.clone())],
            "{spec}"
        );
        let item = item(&document, "ssh.authorized-keys");
        assert_eq!(item["evidence"][0]["user"], "deploy", "{item}");
        assert_eq!(
            item["evidence"][0]["volume"], "partition 2 (ext4)",
            "{item}"
        );
        let histories = evidence(&document, "history.files", "bytes");
        assert_eq!(
            histories,
            [("/home/deploy/.bash_history".to_owned(), "8".to_owned())]
        );
    }
}
