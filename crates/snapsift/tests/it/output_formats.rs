//! The output formats on a real image (GPT, ext4 made by `mkfs.ext4 -d`, a secret copied into
//! two files, a key block, a deleted file, a `.tar.gz` member, data in unpartitioned space,
//! an AWS key ID with its secret on one line): `--format json` holds exactly what
//! JSON Lines prints; `--format sarif` is valid SARIF 2.1.0 by the OASIS schema (committed in
//! `tests/data`, validated offline) and says the same things; the text report shows the copied
//! secret once with both places; `--redact` leaves no secret in any format.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use snapsift_testkit::{
    Secrets, debugfs_rm, gpt_disk_with_root, mkfs_ext4, openssh_key, workdir, write_at,
};

use crate::common::sarif::{assert_valid_sarif, sarif_validator};
use crate::common::*;

const MIB: u64 = 1 << 20;

/// The image and what it holds.
struct Disk {
    /// Keeps the directory alive.
    dir: tempfile::TempDir,
    /// `disk 1.img` in `dir` (a space, for the SARIF URI to encode).
    path: PathBuf,
    /// In `/root/.aws/credentials` and, copied, `/var/backups/credentials.bak`.
    aws: String,
    /// In `/etc/app/config.yaml`.
    pg: String,
    /// In `/root/.ssh/id_ed25519`: a multi-line key block.
    ssh: String,
    /// In unpartitioned space, past the partition's end.
    leftover: String,
    /// In `/tmp/old/alibaba.env`, deleted.
    alibaba: String,
    /// In the member `app/.env` of `/srv/backup.tar.gz`.
    jdbc: String,
    /// An AWS key ID and, on the same line, its secret key: in unpartitioned space, a shell
    /// line. Each half is in the context of the other.
    shell_pair: (String, String),
}

impl Disk {
    /// Builds the image: a 24 MiB GPT disk, partition 1 ("root") an ext4 filesystem.
    fn new() -> Disk {
        let dir = workdir();
        let mut secrets = Secrets::new(2024);
        let (aws, pg, leftover, alibaba, jdbc) = (
            secrets.aws_key_id(),
            secrets.postgres_uri(),
            secrets.postgres_uri(),
            secrets.alibaba_key_id(),
            secrets.jdbc_mysql_uri(),
        );
        let shell_pair = (secrets.aws_key_id(), secrets.alnum(40));
        let ssh = openssh_key(dir.path(), "id_ed25519");
        let credentials = format!("[default]\naws_access_key_id = {aws}\nregion = eu-west-1\n");
        let tree = path_in(&dir, "tree");
        write_tree(
            &tree,
            &[
                ("root/.aws/credentials", credentials.clone()),
                ("var/backups/credentials.bak", credentials),
                ("etc/app/config.yaml", format!("db:\n  url: {pg}\n")),
                ("root/.ssh/id_ed25519", ssh.clone()),
                (
                    "tmp/old/alibaba.env",
                    format!("ALIBABA_CLOUD_ACCESS_KEY_ID={alibaba}\n"),
                ),
            ],
        );
        let app = path_in(&dir, "app");
        write_tree(&app, &[("app/.env", format!("DATABASE_URL={jdbc}\n"))]);
        tar_gz(&tree.join("srv/backup.tar.gz"), &app, "app/.env");
        let fs_image = path_in(&dir, "fs.img");
        mkfs_ext4(&fs_image, &tree, 16);
        // Deleted: the file's blocks are free, its bytes still there.
        debugfs_rm(&fs_image, "/tmp/old/alibaba.env");
        let path = path_in(&dir, "disk 1.img");
        gpt_disk_with_root(&path, &fs_image);
        write_at(&path, 20 * MIB + 4321, format!("\n{leftover}\n").as_bytes());
        let (id, key) = &shell_pair;
        let shell = format!("\nAWS_ACCESS_KEY_ID={id} AWS_SECRET_ACCESS_KEY={key} aws s3 ls\n");
        write_at(&path, 21 * MIB + 1234, shell.as_bytes());
        Disk {
            dir,
            path,
            aws,
            pg,
            ssh: ssh.trim_end().to_owned(),
            leftover,
            alibaba,
            jdbc,
            shell_pair,
        }
    }

    /// Runs `snapsift scan --quiet --format FORMAT EXTRA... PATH`, in `cwd` if given;
    /// returns standard output, after checking the exit status says findings.
    fn scan(&self, format: &str, extra: &[&str], path: &Path, cwd: Option<&Path>) -> String {
        let mut command = snapsift();
        command
            .args(["scan", "--quiet", "--format", format])
            .args(extra)
            .arg(path);
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{format}: {stderr}");
        assert!(stderr.is_empty(), "{format}: {stderr}");
        String::from_utf8(output.stdout).expect("output is UTF-8")
    }

    /// The JSON Lines findings of a scan with `extra` arguments (the image's coverage line,
    /// which must come last and say the scan was complete, left out).
    fn jsonl(&self, extra: &[&str]) -> Vec<Value> {
        let mut lines: Vec<Value> = self
            .scan("jsonl", extra, &self.path, None)
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect();
        let coverage = lines.pop().expect("a coverage line");
        let coverage = &coverage["coverage"];
        assert_eq!(coverage["image"], self.path.to_str().unwrap());
        assert_eq!(coverage["complete"], true, "{coverage}");
        assert_eq!(coverage["unreadable"], serde_json::json!([]));
        assert_eq!(coverage["scanned_bytes"], coverage["data_bytes"]);
        assert!(lines.iter().all(|l| l.get("coverage").is_none()));
        lines
    }

    /// The parts of every secret that no output may show with `--redact`: the AWS key past
    /// its prefix, the passwords, every line of the key's body.
    fn secret_parts(&self) -> Vec<String> {
        let password = |uri: &str| uri.split(['@', ':']).nth(2).unwrap().to_owned();
        let mut parts = vec![
            self.aws[4..].to_owned(),
            self.alibaba[4..].to_owned(),
            self.pg.clone(),
            password(&self.pg),
            self.leftover.clone(),
            password(&self.leftover),
            self.jdbc.clone(),
            self.jdbc.split(['@', ':']).nth(3).unwrap().to_owned(),
            self.shell_pair.0[4..].to_owned(),
            self.shell_pair.1.clone(),
        ];
        parts.extend(
            self.ssh
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .map(str::to_owned),
        );
        parts
    }
}

/// The property bag of a SARIF result.
fn properties_of(result: &Value) -> &Value {
    &result["properties"]
}

/// The SARIF level of a JSON Lines confidence.
fn level_of(confidence: &Value) -> &'static str {
    match confidence.as_str().unwrap() {
        "high" => "error",
        "medium" => "warning",
        "low" => "note",
        other => panic!("confidence {other}"),
    }
}

#[test]
fn json_document_holds_exactly_the_jsonl_findings() {
    let disk = Disk::new();
    let image = disk.path.to_str().unwrap();
    for extra in [&[][..], &["--redact"][..]] {
        let lines = disk.jsonl(extra);
        assert_eq!(
            lines.len(),
            8,
            "2 copies of the AWS key, 3 URIs, 1 key, 1 AccessKey ID, 1 AWS key with its secret"
        );
        let doc: Value = serde_json::from_str(&disk.scan("json", extra, &disk.path, None)).unwrap();
        assert_eq!(doc["findings"], Value::Array(lines.clone()), "{extra:?}");
        assert_eq!(
            doc["tool"],
            json!({"name": "snapsift", "version": env!("CARGO_PKG_VERSION")})
        );
        assert_eq!(
            doc["summary"],
            json!({"findings": 8, "images": [{"image": image, "findings": 8}], "complete": true})
        );
        let coverage = doc["coverage"].as_array().unwrap();
        assert_eq!(coverage.len(), 1);
        assert_eq!(coverage[0]["image"], image);
        assert_eq!(coverage[0]["complete"], true);
        assert_eq!(coverage[0]["findings"], 8);
    }

    // Nothing found: still one document, with no findings.
    let clean = path_in(&disk.dir, "clean.img");
    std::fs::write(&clean, Secrets::new(1).filler(1 << 20)).unwrap();
    let output = snapsift()
        .args(["scan", "--quiet", "--format", "json"])
        .arg(&clean)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["findings"], json!([]));
    assert_eq!(
        doc["summary"],
        json!({"findings": 0, "images": [], "complete": true})
    );
}

#[test]
fn sarif_is_valid_per_the_oasis_schema_and_says_what_jsonl_says() {
    let disk = Disk::new();
    let validator = sarif_validator();
    let rule_ids: Vec<String> =
        String::from_utf8(snapsift().args(["rules", "list"]).output().unwrap().stdout)
            .unwrap()
            .lines()
            .map(|l| l.split_whitespace().next().unwrap().to_owned())
            .collect();
    let cwd_uri = format!(
        "file://{}/",
        disk.dir.path().canonicalize().unwrap().display()
    );
    let relative = Path::new("disk 1.img");
    let runs: [(&str, &[&str], &Path, Option<&Path>); 3] = [
        ("absolute path", &[], &disk.path, None),
        ("relative path", &[], relative, Some(disk.dir.path())),
        ("--redact", &["--redact"], &disk.path, None),
    ];
    for (what, extra, path, cwd) in runs {
        let log: Value = serde_json::from_str(&disk.scan("sarif", extra, path, cwd)).unwrap();
        assert_valid_sarif(&validator, &log, what);
        let lines = disk.jsonl(extra);

        assert_eq!(log["version"], "2.1.0");
        assert_eq!(
            log["$schema"],
            "https://json.schemastore.org/sarif-2.1.0.json"
        );
        let runs = log["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1);
        let run = &runs[0];
        let driver = &run["tool"]["driver"];
        assert_eq!(driver["name"], "snapsift");
        assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
        let rules = driver["rules"].as_array().unwrap();
        let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids, rule_ids, "every rule in force, in order");
        assert_eq!(
            run["invocations"],
            json!([{"executionSuccessful": true, "toolExecutionNotifications": []}])
        );

        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), lines.len(), "{what}");
        let mut seen_kinds = std::collections::BTreeSet::new();
        for (result, f) in results.iter().zip(&lines) {
            assert_eq!(result["ruleId"], f["rule"]);
            let index = result["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[index]["id"], f["rule"]);
            assert_eq!(result["level"], level_of(&f["confidence"]));
            assert_eq!(
                result["partialFingerprints"],
                json!({"snapsiftFingerprint/v1": f["fingerprint"]})
            );
            let locations = result["locations"].as_array().unwrap();
            assert_eq!(locations.len(), 1);
            let physical = &locations[0]["physicalLocation"];
            let location = &f["location"];
            if location.get("decoded_offset").is_some() {
                // In decoded bytes: the point where the file's bytes begin.
                assert_eq!(physical["region"], json!({"byteOffset": f["offset"]}));
                assert_eq!(
                    properties_of(result)["decoded_offset"],
                    location["decoded_offset"]
                );
            } else {
                assert_eq!(
                    physical["region"],
                    json!({"byteOffset": f["offset"], "byteLength": f["length"]})
                );
            }
            let artifact = &physical["artifactLocation"];
            if cwd.is_some() {
                assert_eq!(
                    artifact,
                    &json!({"uri": "disk%201.img", "uriBaseId": "CWD"})
                );
                assert_eq!(run["originalUriBaseIds"]["CWD"]["uri"], cwd_uri.as_str());
            } else {
                let uri = artifact["uri"].as_str().unwrap();
                assert_eq!(uri, format!("{cwd_uri}disk%201.img"), "{what}");
                assert!(artifact.get("uriBaseId").is_none());
                assert!(run.get("originalUriBaseIds").is_none());
            }
            match location.get("path") {
                Some(path) => {
                    let members: Vec<&str> = location
                        .get("container")
                        .into_iter()
                        .flat_map(|c| c.as_array().unwrap())
                        .filter_map(|layer| layer["member"].as_str())
                        .collect();
                    let mut full = path.as_str().unwrap().to_owned();
                    for member in &members {
                        full = format!("{full}!/{member}");
                    }
                    assert_eq!(
                        locations[0]["logicalLocations"],
                        json!([{
                            "fullyQualifiedName": full,
                            "name": full.rsplit('/').next().unwrap(),
                            "kind": if members.is_empty() { "file" } else { "member" },
                        }])
                    );
                }
                None => {
                    assert_eq!(location["state"], "unpartitioned");
                    assert!(locations[0].get("logicalLocations").is_none());
                }
            }
            let properties = properties_of(result);
            for key in ["confidence", "checks", "valid", "secret", "context"] {
                assert_eq!(properties[key], f[key], "{key}");
            }
            for key in ["state", "path", "inode", "partition", "filesystem"] {
                assert_eq!(properties.get(key), location.get(key), "{key}");
            }
            // The message names the rule and the place, but never shows the whole secret.
            let message = result["message"]["text"].as_str().unwrap();
            assert!(message.starts_with(f["rule_name"].as_str().unwrap()));
            assert!(message.contains(&format!("disk offset {}", f["offset"])));
            if let Some(path) = location.get("path") {
                assert!(message.contains(path.as_str().unwrap()), "{message}");
            }
            seen_kinds.insert(location["state"].as_str().unwrap().to_owned());
            if location.get("decoded_offset").is_some() {
                seen_kinds.insert("decoded".to_owned());
            }
            for part in disk.secret_parts() {
                assert!(!message.contains(&part), "{message}");
            }
        }
        assert_eq!(
            seen_kinds.into_iter().collect::<Vec<_>>(),
            ["allocated", "decoded", "deleted", "unpartitioned"],
            "the places this test means to cover"
        );
        let unredacted = extra.is_empty();
        let secrets: Vec<&str> = results
            .iter()
            .map(|r| r["properties"]["secret"].as_str().unwrap())
            .collect();
        assert_eq!(
            secrets.contains(&disk.aws.as_str()),
            unredacted,
            "the full secret is in the property bag unless --redact"
        );
    }
}

/// A way to break a SARIF log, and what it breaks.
type Breakage = (&'static str, fn(&mut Value));

#[test]
fn the_schema_validator_rejects_broken_sarif() {
    let disk = Disk::new();
    let validator = sarif_validator();
    let log: Value = serde_json::from_str(&disk.scan("sarif", &[], &disk.path, None)).unwrap();
    assert_valid_sarif(&validator, &log, "as written");
    let breakages: [Breakage; 10] = [
        ("no version", |l| {
            l.as_object_mut().unwrap().remove("version");
        }),
        ("version 2.0.0", |l| l["version"] = json!("2.0.0")),
        ("$schema not a URI", |l| l["$schema"] = json!("not a uri")),
        ("no driver name", |l| {
            l["runs"][0]["tool"]["driver"]
                .as_object_mut()
                .unwrap()
                .remove("name");
        }),
        ("level fatal", |l| {
            l["runs"][0]["results"][0]["level"] = json!("fatal")
        }),
        ("message without text", |l| {
            l["runs"][0]["results"][0]["message"] = json!({})
        }),
        ("a property SARIF does not define", |l| {
            l["runs"][0]["results"][0]["secret"] = json!("AKIA…")
        }),
        ("byteOffset below -1", |l| {
            l["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["byteOffset"] =
                json!(-2)
        }),
        ("a space in a URI", |l| {
            l["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] =
                json!("file:///tmp/disk 1.img")
        }),
        ("a fingerprint that is not a string", |l| {
            l["runs"][0]["results"][0]["partialFingerprints"]["snapsiftFingerprint/v1"] = json!(5)
        }),
    ];
    for (what, breakage) in breakages {
        let mut broken = log.clone();
        breakage(&mut broken);
        assert_ne!(broken, log, "{what}: nothing was broken");
        assert!(!validator.is_valid(&broken), "{what}: accepted");
    }
}

#[test]
fn text_report_shows_a_copied_secret_once_with_both_places() {
    let disk = Disk::new();
    let lines = disk.jsonl(&[]);
    let text = disk.scan("text", &[], &disk.path, None);
    let blocks: Vec<Vec<&str>> = text
        .split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|b| b.lines().collect())
        .collect();
    assert_eq!(blocks.len(), 7, "one block per secret:\n{text}");

    // Blocks in the order of their secret's first place on the disk.
    let mut firsts: Vec<(u64, String)> = Vec::new();
    for f in &lines {
        let secret = f["secret"].as_str().unwrap();
        if !firsts.iter().any(|(_, s)| s == secret) {
            firsts.push((f["offset"].as_u64().unwrap(), secret.to_owned()));
        }
    }
    firsts.sort();
    for (block, (_, secret)) in blocks.iter().zip(&firsts) {
        let first_line = secret.lines().next().unwrap();
        assert!(
            block.contains(&format!("  secret:  {first_line}").as_str()),
            "{secret} expected in\n{}",
            block.join("\n")
        );
    }

    let aws: Vec<&Vec<&str>> = blocks
        .iter()
        .filter(|b| b.contains(&format!("  secret:  {}", disk.aws).as_str()))
        .collect();
    assert_eq!(aws.len(), 1, "the copied key is one block:\n{text}");
    let aws = aws[0];
    assert_eq!(aws[0], "aws.access-key-id [high] AWS access key ID");
    assert!(aws.contains(&format!("  secret:  {}", disk.aws).as_str()));
    assert!(aws.contains(&format!("  context: aws_access_key_id = {}", disk.aws).as_str()));
    let found = aws.iter().position(|l| *l == "  found in 2 places:");
    let places = &aws[found.expect("two places") + 1..];
    assert_eq!(places.len(), 2, "{}", aws.join("\n"));
    let mut copies: Vec<(u64, &str)> = lines
        .iter()
        .filter(|f| f["secret"] == disk.aws.as_str())
        .map(|f| {
            (
                f["offset"].as_u64().unwrap(),
                f["location"]["path"].as_str().unwrap(),
            )
        })
        .collect();
    copies.sort();
    let mut paths: Vec<&str> = copies.iter().map(|c| c.1).collect();
    paths.sort();
    assert_eq!(
        paths,
        ["/root/.aws/credentials", "/var/backups/credentials.bak"]
    );
    for (line, (offset, path)) in places.iter().zip(&copies) {
        let expected_start = format!("    {path}  (allocated, inode ");
        assert!(line.starts_with(&expected_start), "{line}");
        let expected_place = format!(
            "  {}  partition 1 (ext4, \"root\")  offset {offset} ({offset:#x})  20 bytes",
            disk.path.display()
        );
        assert!(line.ends_with(&expected_place), "{line}");
    }

    // The key block keeps its lines, aligned under the first.
    let ssh = blocks
        .iter()
        .find(|b| b[0].starts_with("private-key.openssh ["))
        .unwrap_or_else(|| panic!("no key block:\n{text}"));
    let mut key = disk.ssh.lines();
    let first = format!("  secret:  {}", key.next().unwrap());
    let at = ssh
        .iter()
        .position(|l| *l == first)
        .unwrap_or_else(|| panic!("{first:?} expected in\n{}", ssh.join("\n")));
    for (shown, line) in ssh[at + 1..].iter().zip(key) {
        assert_eq!(*shown, format!("           {line}"));
    }

    // A place with no file: the disk place alone.
    let leftover = blocks
        .iter()
        .find(|b| b.contains(&format!("  secret:  {}", disk.leftover).as_str()))
        .unwrap_or_else(|| panic!("no block of {}:\n{text}", disk.leftover));
    let offset = lines
        .iter()
        .find(|f| f["secret"] == disk.leftover.as_str())
        .unwrap()["offset"]
        .as_u64()
        .unwrap();
    assert_eq!(
        leftover[leftover.len() - 1],
        format!(
            "    {}  unpartitioned space  offset {offset} ({offset:#x})  {} bytes",
            disk.path.display(),
            disk.leftover.len()
        )
    );
}

#[test]
fn redact_leaves_no_secret_in_json_sarif_or_text() {
    let disk = Disk::new();
    let parts = disk.secret_parts();
    for format in ["text", "jsonl", "json", "sarif"] {
        let shown = disk.scan(format, &["--redact"], &disk.path, None);
        for part in &parts {
            assert!(
                !shown.contains(part.as_str()),
                "{format} shows {part}:\n{shown}"
            );
        }
        assert!(shown.contains("AKIA****"), "{format}: {shown}");
        // Without --redact the same output does show them: the check above can fail.
        let full = disk.scan(format, &[], &disk.path, None);
        for part in &parts {
            assert!(
                full.contains(part.as_str()),
                "{format} without --redact: {part}"
            );
        }
    }
}

#[test]
fn standard_error_never_shows_a_secret() {
    let disk = Disk::new();
    let parts = disk.secret_parts();
    // Not quiet: the layout, the notes and the summary go to standard error.
    for format in ["text", "jsonl", "json", "sarif"] {
        for extra in [&[][..], &["--redact"][..], &["--include-invalid"][..]] {
            let output = snapsift()
                .args(["scan", "--format", format])
                .args(extra)
                .arg(&disk.path)
                .output()
                .unwrap();
            assert_eq!(output.status.code(), Some(1));
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains("finding(s)"), "{format}: {stderr}");
            for part in &parts {
                assert!(
                    !stderr.contains(part.as_str()),
                    "{format} {extra:?}: stderr shows {part}:\n{stderr}"
                );
            }
            // Standard output has them (unless redacted): the check above can fail.
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert_eq!(
                stdout.contains(parts[0].as_str()),
                !extra.contains(&"--redact"),
                "{format} {extra:?}"
            );
        }
    }
}
