//! The audit half of `cargo xtask debian`: `snapsift audit` on the stock image, on the planted
//! image with an unclean instance's leftovers added ([`plant_unclean`]: a user with a password
//! hash, `authorized_keys` for root and that user, a host key, bash histories, `/tmp` and
//! `/var/tmp` files, cloud-init user data and log, a deleted file, a machine ID), and on the
//! stock tree with the same leftovers cleaned as the checklist says ([`clean`]).
//!
//! Each leftover must fail its item with the right evidence (path, account, SHA256 fingerprint
//! as `ssh-keygen -l` gives it, size), the password hash must not be in the report, and on
//! the cleaned image each of those items must pass.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::plant::write_file;
use crate::shared::filesystem::FsKind;
use crate::shared::workspace::{display, run_tool};

/// The account the unclean instance was left with.
const USER: &str = "ops";
/// A generated machine ID (32 hex digits and a newline, as systemd writes it).
const MACHINE_ID: &str = "5f3e0c2a9b7d4e1f8a6c3b2d1e0f9a8b\n";
/// The cloud-init instance whose user data is left.
const INSTANCE: &str = "i-0d1e2f3a4b5c6d7e8";
/// The file deleted after the file system was made.
const DELETED: &str = "/home/ops/notes.txt";

/// The items the leftovers fail, and that the cleaned image must pass.
pub(super) const PLANTED_ITEMS: [&str; 9] = [
    "accounts.passwords",
    "accounts.login-shells",
    "ssh.authorized-keys",
    "ssh.host-keys",
    "history.files",
    "temporary.tmp",
    "temporary.cloud-init",
    "residual.deleted-files",
    "identity.machine-id",
];

/// What [`plant_unclean`] left, as the audit must report it.
pub(super) struct Unclean {
    /// The password hash of [`USER`] (never to be in a report).
    hash: String,
    /// SHA256 fingerprints (`ssh-keygen -l`) of root's and the user's authorized keys and of
    /// the host key.
    root_key: String,
    user_key: String,
    host_key: String,
    /// The files to delete once the file system is made.
    pub(super) deleted: Vec<String>,
}

/// `ssh-keygen -t ed25519` into `path` (and `.pub`) with `comment`; its SHA256 fingerprint.
fn keygen(path: &Path, comment: &str) -> Result<String> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let _ = fs::remove_file(path);
    let _ = fs::remove_file(path.with_extension("pub"));
    run_tool(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
            .arg(path),
    )
    .context("ssh-keygen (openssh-client) makes the planted keys")?;
    let mut public = path.as_os_str().to_owned();
    public.push(".pub");
    let listed = run_tool(Command::new("ssh-keygen").arg("-lf").arg(&public))?;
    String::from_utf8(listed.stdout)?
        .split_whitespace()
        .nth(1)
        .map(str::to_owned)
        .context("ssh-keygen -l printed no fingerprint")
}

/// Appends `line` to the file `path` of `root`.
fn append(root: &Path, path: &str, line: &str) -> Result<()> {
    let host = root.join(path.trim_start_matches('/'));
    let mut text = fs::read_to_string(&host).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(line);
    text.push('\n');
    fs::write(&host, text).with_context(|| format!("writing {}", host.display()))
}

/// Leaves in `root` what an instance leaves behind when imaged as it ran; the keys made
/// outside the tree go to `work`.
pub(super) fn plant_unclean(root: &Path, work: &Path) -> Result<Unclean> {
    let put = |path: &str, text: &str| {
        write_file(&root.join(path.trim_start_matches('/')), text.as_bytes())
    };
    let hash = run_tool(Command::new("openssl").args([
        "passwd",
        "-6",
        "-salt",
        "xtaskauditsalt",
        "generated-pw-59312",
    ]))?;
    let hash = String::from_utf8(hash.stdout)?.trim().to_owned();
    append(
        root,
        "/etc/passwd",
        &format!("{USER}:x:1001:1001:Ops,,,:/home/{USER}:/bin/bash"),
    )?;
    append(
        root,
        "/etc/shadow",
        &format!("{USER}:{hash}:20000:0:99999:7:::"),
    )?;
    append(root, "/etc/group", &format!("{USER}:x:1001:"))?;

    let keys = work.join("audit-keys");
    let root_key = keygen(&keys.join("admin"), "admin@laptop")?;
    let user_key = keygen(&keys.join("ops"), "ops@workstation")?;
    let public = |name: &str| fs::read_to_string(keys.join(format!("{name}.pub")));
    put("/root/.ssh/authorized_keys", &public("admin")?)?;
    put(
        &format!("/home/{USER}/.ssh/authorized_keys"),
        &format!("no-agent-forwarding {}", public("ops")?),
    )?;
    let host_key = keygen(
        &root.join("etc/ssh/ssh_host_ed25519_key"),
        "root@debian-image",
    )?;
    fs::remove_dir_all(&keys)?;

    put(
        "/root/.bash_history",
        "apt-get update\nsystemctl status nginx\n",
    )?;
    put(
        &format!("/home/{USER}/.bash_history"),
        "cd /srv\ntail -f /var/log/syslog\n",
    )?;
    put("/tmp/build-output.log", &"compiling...\n".repeat(200))?;
    put("/var/tmp/cache.bin", "cached\n")?;
    put(
        &format!("/var/lib/cloud/instances/{INSTANCE}/user-data.txt"),
        "#cloud-config\nusers:\n  - name: ops\n    lock_passwd: false\n",
    )?;
    put(
        "/var/log/cloud-init.log",
        "2026-12-01 10:00:00,000 - util.py[DEBUG]: Cloud-init v. 22.4.2 running 'init'\n",
    )?;
    put(
        DELETED,
        &"release notes for the staging cluster\n".repeat(30),
    )?;
    put("/etc/machine-id", MACHINE_ID)?;
    Ok(Unclean {
        hash,
        root_key,
        user_key,
        host_key,
        deleted: vec![DELETED.to_owned()],
    })
}

/// Applies the checklist to what [`plant_unclean`] left in `root`: the user deleted (its
/// entries and home), keys, histories, temporary files and cloud-init's data removed, the
/// machine ID emptied. Nothing is deleted once the file system is made.
pub(super) fn clean(root: &Path) -> Result<()> {
    for file in ["etc/passwd", "etc/shadow", "etc/group"] {
        let path = root.join(file);
        let text = fs::read_to_string(&path)?;
        let kept: String = text
            .lines()
            .filter(|l| !l.starts_with(&format!("{USER}:")))
            .map(|l| format!("{l}\n"))
            .collect();
        fs::write(&path, kept)?;
    }
    for path in [
        format!("home/{USER}"),
        "root/.ssh".to_owned(),
        "root/.bash_history".to_owned(),
        "var/lib/cloud".to_owned(),
        "var/log/cloud-init.log".to_owned(),
        "etc/ssh/ssh_host_ed25519_key".to_owned(),
        "etc/ssh/ssh_host_ed25519_key.pub".to_owned(),
    ] {
        let path = root.join(path);
        if path.is_dir() {
            fs::remove_dir_all(&path)?;
        } else if path.exists() {
            fs::remove_file(&path)?;
        }
    }
    for dir in ["tmp", "var/tmp"] {
        for entry in fs::read_dir(root.join(dir))? {
            let path = entry?.path();
            if path.is_dir() {
                fs::remove_dir_all(&path)?;
            } else {
                fs::remove_file(&path)?;
            }
        }
    }
    fs::write(root.join("etc/machine-id"), "")?;
    Ok(())
}

/// An audit's report and time.
pub(super) struct Audited {
    pub(super) seconds: f64,
    /// The JSON report as written.
    text: String,
    /// Its first image.
    image: Value,
}

impl Audited {
    /// The item `id`.
    fn item(&self, id: &str) -> Option<&Value> {
        self.image["items"]
            .as_array()?
            .iter()
            .find(|i| i["id"] == id)
    }

    /// How many items came out `status`.
    pub(super) fn count(&self, status: &str) -> usize {
        self.image["items"].as_array().map_or(0, |items| {
            items.iter().filter(|i| i["status"] == status).count()
        })
    }

    /// The status of each item, failed first, then warnings, then passes: `fail
    /// accounts.passwords (1)`, with how many pieces of evidence.
    pub(super) fn checklist(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for status in ["fail", "warn", "pass"] {
            for item in self.image["items"].as_array().into_iter().flatten() {
                if item["status"] != status {
                    continue;
                }
                let evidence = item["evidence"].as_array().map_or(0, Vec::len) as u64
                    + item["evidence_omitted"].as_u64().unwrap_or(0);
                lines.push(format!(
                    "{status:<4} {:<26} {evidence:>4} piece(s) of evidence",
                    item["id"].as_str().unwrap_or("?")
                ));
            }
        }
        lines
    }
}

/// Runs `snapsift audit --format json` on `disk` (exit status 0 or 1: the image was audited).
pub(super) fn audit(snapsift: &Path, disk: &Path) -> Result<Audited> {
    let started = Instant::now();
    let output = Command::new(snapsift)
        .args(["audit", "--quiet", "--format", "json", "--fail-on", "never"])
        .arg(disk)
        .output()
        .with_context(|| format!("running {}", display(snapsift)))?;
    let seconds = started.elapsed().as_secs_f64();
    if output.status.code() != Some(0) {
        bail!(
            "snapsift audit failed on {} (status {:?}): {}",
            display(disk),
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = String::from_utf8(output.stdout)?;
    let document: Value = serde_json::from_str(&text)?;
    Ok(Audited {
        seconds,
        text,
        image: document["images"][0].clone(),
    })
}

/// One piece of evidence an item must hold: its path, and fields it must have (`detail` is
/// matched as a part of it, the others whole).
struct Expected {
    id: &'static str,
    path: String,
    fields: Vec<(&'static str, String)>,
}

/// The evidence each leftover must be reported with on a file system of `kind` (a deleted
/// file only where the file system keeps a record of it).
fn expected(unclean: &Unclean, kind: FsKind) -> Vec<Expected> {
    let at = |id, path: &str, fields: &[(&'static str, &str)]| Expected {
        id,
        path: path.to_owned(),
        fields: fields.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
    };
    let home = format!("/home/{USER}");
    let mut all = vec![
        at(
            "accounts.passwords",
            "/etc/shadow",
            &[("user", USER), ("detail", "sha512-crypt")],
        ),
        at("accounts.login-shells", "/etc/passwd", &[("user", USER)]),
        at(
            "ssh.authorized-keys",
            "/root/.ssh/authorized_keys",
            &[
                ("user", "root"),
                ("fingerprint", &unclean.root_key),
                ("comment", "admin@laptop"),
            ],
        ),
        at(
            "ssh.authorized-keys",
            &format!("{home}/.ssh/authorized_keys"),
            &[
                ("user", USER),
                ("fingerprint", &unclean.user_key),
                ("options", "no-agent-forwarding"),
            ],
        ),
        at(
            "ssh.host-keys",
            "/etc/ssh/ssh_host_ed25519_key",
            &[("key_type", "ed25519"), ("fingerprint", &unclean.host_key)],
        ),
        at("history.files", "/root/.bash_history", &[("user", "root")]),
        at(
            "history.files",
            &format!("{home}/.bash_history"),
            &[("user", USER)],
        ),
        at(
            "temporary.tmp",
            "/tmp/build-output.log",
            &[("bytes", "2600")],
        ),
        at("temporary.tmp", "/var/tmp/cache.bin", &[("bytes", "7")]),
        at(
            "temporary.cloud-init",
            &format!("/var/lib/cloud/instances/{INSTANCE}/user-data.txt"),
            &[],
        ),
        at("temporary.cloud-init", "/var/log/cloud-init.log", &[]),
        at("identity.machine-id", "/etc/machine-id", &[("bytes", "33")]),
    ];
    if kind.keeps_deleted_files() {
        all.push(at(
            "residual.deleted-files",
            DELETED,
            &[("detail", "deleted")],
        ));
    }
    all
}

/// Whether `evidence` has `field` as expected.
fn has(evidence: &Value, field: &str, want: &str) -> bool {
    let value = &evidence[field];
    match value {
        Value::String(s) if field == "detail" => s.contains(want),
        Value::String(s) => s == want,
        Value::Number(n) => n.to_string() == want,
        _ => false,
    }
}

/// What is wrong with how `audited` (the planted image on `kind`) reports the leftovers:
/// each must fail its item with its evidence; the hash must not be in the report. Returns
/// (pieces of evidence right, of how many, the problems).
pub(super) fn check_unclean(
    audited: &Audited,
    unclean: &Unclean,
    kind: FsKind,
) -> (usize, usize, Vec<String>) {
    let expected = expected(unclean, kind);
    let mut problems = Vec::new();
    let mut right = 0;
    for want in &expected {
        let Some(item) = audited.item(want.id) else {
            problems.push(format!("{}: no such item in the report", want.id));
            continue;
        };
        let status = if want.id == "accounts.login-shells" {
            "warn"
        } else {
            "fail"
        };
        let found = item["evidence"].as_array().into_iter().flatten().find(|e| {
            e["path"] == want.path.as_str() && want.fields.iter().all(|(k, v)| has(e, k, v))
        });
        let verdict = match (item["status"] == status, found) {
            (true, Some(_)) => {
                right += 1;
                "ok"
            }
            (false, _) => {
                problems.push(format!(
                    "{}: status {}, expected {status} for {}",
                    want.id, item["status"], want.path
                ));
                "WRONG"
            }
            (true, None) => {
                problems.push(format!(
                    "{}: no evidence at {} with {:?}; the item says {}",
                    want.id, want.path, want.fields, item["evidence"]
                ));
                "WRONG"
            }
        };
        println!("  {:<24} {:<58} {verdict}", want.id, want.path);
    }
    if audited.text.contains(&unclean.hash[20..]) {
        problems.push("the password hash is in the report".to_owned());
    }
    (right, expected.len(), problems)
}

/// What is wrong with the cleaned image's report: every item of [`PLANTED_ITEMS`] must pass.
/// Returns (items passing, of how many, the problems).
pub(super) fn check_cleaned(audited: &Audited) -> (usize, usize, Vec<String>) {
    let mut problems = Vec::new();
    let mut right = 0;
    for id in PLANTED_ITEMS {
        match audited.item(id) {
            Some(item) if item["status"] == "pass" => right += 1,
            Some(item) => problems.push(format!(
                "cleaned image: {id} is {}: {}",
                item["status"], item["evidence"]
            )),
            None => problems.push(format!("cleaned image: no item {id}")),
        }
    }
    (right, PLANTED_ITEMS.len(), problems)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn unclean() -> Unclean {
        Unclean {
            hash: "$6$xtaskauditsalt$0123456789abcdefghijklmnopqrstuvwxyz".into(),
            root_key: "SHA256:root".into(),
            user_key: "SHA256:user".into(),
            host_key: "SHA256:host".into(),
            deleted: vec![DELETED.into()],
        }
    }

    /// A report holding `expected` as evidence, each item with `status` (the login shells
    /// item a warning), every other planted item passing.
    fn report(expected: &[Expected], status: &str) -> Audited {
        let items: Vec<Value> = PLANTED_ITEMS
            .iter()
            .map(|id| {
                let evidence: Vec<Value> = expected
                    .iter()
                    .filter(|e| e.id == *id)
                    .map(|e| {
                        let mut piece = json!({"path": e.path, "detail": "x"});
                        for (key, value) in &e.fields {
                            piece[*key] = match (*key, value.parse::<u64>()) {
                                ("bytes", Ok(n)) => json!(n),
                                ("detail", _) => json!(format!("a {value} thing")),
                                _ => json!(value),
                            };
                        }
                        piece
                    })
                    .collect();
                let status = match (evidence.is_empty(), *id) {
                    (true, _) => "pass",
                    (false, "accounts.login-shells") if status == "fail" => "warn",
                    _ => status,
                };
                json!({"id": id, "status": status, "evidence": evidence})
            })
            .collect();
        let image = json!({"items": items});
        Audited {
            seconds: 0.0,
            text: image.to_string(),
            image,
        }
    }

    #[test]
    fn the_leftovers_are_checked_by_their_evidence() {
        let unclean = unclean();
        let want = expected(&unclean, FsKind::Ext4);
        let (right, total, problems) =
            check_unclean(&report(&want, "fail"), &unclean, FsKind::Ext4);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!((right, total), (13, 13));
        // On XFS the deleted file is not expected.
        assert_eq!(expected(&unclean, FsKind::Xfs).len(), 12);

        // A wrong fingerprint, a missing file, a pass and the hash in the report.
        let mut wrong = expected(&unclean, FsKind::Ext4);
        wrong[2].fields[1].1 = "SHA256:other".into();
        wrong.retain(|e| e.path != "/etc/machine-id");
        let mut audited = report(&wrong, "fail");
        audited.text.push_str(&unclean.hash);
        let (right, _, problems) = check_unclean(&audited, &unclean, FsKind::Ext4);
        assert_eq!(right, 11, "{problems:?}");
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[2].contains("hash"));
        let (_, _, problems) = check_unclean(&report(&want, "warn"), &unclean, FsKind::Ext4);
        assert_eq!(problems.len(), 12, "{problems:?}");
    }

    #[test]
    fn the_cleaned_image_must_pass_each_item() {
        let (right, total, problems) = check_cleaned(&report(&[], "fail"));
        assert!(problems.is_empty());
        assert_eq!((right, total), (9, 9));
        let unclean = unclean();
        let left = expected(&unclean, FsKind::Ext4);
        let (right, _, problems) = check_cleaned(&report(&left[..1], "fail"));
        assert_eq!(right, 8);
        assert!(problems[0].contains("accounts.passwords"), "{problems:?}");
    }
}
