//! `snapsift audit --format sarif` and `--format html` on a GPT disk made by `sgdisk`: an
//! ext4 root (made by `mkfs.ext4 -d` from the planted tree of the `audit` module, with a file
//! whose name is markup) and a swap partition (`mkswap`) whose GPT name is markup too.
//!
//! The SARIF log is valid by the OASIS schema and says what the JSON report says: a rule per
//! check, a result per failed or warned item, a location per piece of evidence, at the disk
//! offset where the file lies (found in the image by its bytes); no secret unless asked for.
//! The HTML page, rendered by headless Chromium (`--dump-dom`), holds every item and every
//! volume of the layout, and no markup from the image.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use snapsift_testkit::{
    dd_into, debugfs_rm, gpt_disk, mkfs_ext4, offsets_of, run, unavailable, workdir, write_file,
};

use crate::audit::{Planted, audit_document, audit_json, base_tree, plant};
use crate::common::sarif::{assert_valid_sarif, sarif_validator};
use crate::common::snapsift_run;

const MIB: u64 = 1 << 20;
/// The name of a file planted in `/tmp`: markup, if a report wrote it as it is.
const MARKUP_NAME: &str = "<img src=x onerror=alert(1)>";
/// The GPT name of the swap partition.
const MARKUP_PARTITION: &str = "<b>swap</b>";
/// What `/root/.bash_history` holds: found on the disk by these bytes.
const HISTORY: &str = "mysql -u root -p\nls\n";

/// The planted disk and what it holds.
struct Disk {
    dir: tempfile::TempDir,
    path: PathBuf,
    tree: PathBuf,
    planted: Planted,
}

/// A 48 MiB GPT disk: partition 1 (1 MiB, 24 MiB) the planted ext4 root with one file
/// deleted by debugfs, partition 2 (8 MiB) a swap area.
fn planted_disk() -> Disk {
    let dir = workdir();
    let tree = dir.path().join("planted");
    base_tree(&tree);
    let planted = plant(&tree);
    write_file(&tree, &format!("tmp/{MARKUP_NAME}"), "x");
    let root = dir.path().join("root.img");
    mkfs_ext4(&root, &tree, 24);
    debugfs_rm(&root, "/home/alice/notes.txt");
    let swap = dir.path().join("swap.img");
    fs::write(&swap, vec![0u8; (8 * MIB) as usize]).unwrap();
    run("mkswap", &["-q", swap.to_str().unwrap()]);
    let path = dir.path().join("disk.img");
    gpt_disk(
        &path,
        48 * MIB,
        &[
            "-n",
            "1:2048:+24M",
            "-t",
            "1:8300",
            "-c",
            "1:root",
            "-n",
            "2:51200:+8M",
            "-t",
            "2:8200",
            "-c",
            &format!("2:{MARKUP_PARTITION}"),
        ],
    );
    dd_into(&path, &root, MIB);
    dd_into(&path, &swap, 51200 * 512);
    Disk {
        dir,
        path,
        tree,
        planted,
    }
}

/// Runs `snapsift audit -q --format sarif ARGS... IMAGE`: (exit status, log, as written).
fn audit_sarif(image: &Path, args: &[&str]) -> (i32, Value, String) {
    audit_document("sarif", image, args)
}

#[test]
fn sarif_is_valid_and_says_what_the_json_report_says() {
    let disk = planted_disk();
    let validator = sarif_validator();
    let (code, log, written) = audit_sarif(&disk.path, &[]);
    assert_eq!(code, 1);
    assert_valid_sarif(&validator, &log, "audit, planted disk");
    let (_, document, _) = audit_json(&disk.path, &[]);
    let items = document["images"][0]["items"].as_array().unwrap();
    let run = &log["runs"][0];
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(run["tool"]["driver"]["name"], "snapsift");
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    // A rule per check, in order, with its title and remediation.
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), items.len());
    for (rule, item) in rules.iter().zip(items) {
        assert_eq!(rule["id"], item["id"]);
        assert_eq!(rule["shortDescription"]["text"], item["title"]);
        assert_eq!(rule["help"]["text"], item["remediation"]);
    }
    // A result per failed or warned item, with its level and a location per evidence.
    let flagged: Vec<&Value> = items.iter().filter(|i| i["status"] != "pass").collect();
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), flagged.len());
    assert!(results.len() >= 10, "{}", results.len());
    for (result, item) in results.iter().zip(&flagged) {
        assert_eq!(result["ruleId"], item["id"]);
        let level = if item["status"] == "fail" {
            "error"
        } else {
            "warning"
        };
        assert_eq!(result["level"], level, "{}", item["id"]);
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], item["id"]);
        let locations = result["locations"].as_array().unwrap();
        let evidence = item["evidence"].as_array().unwrap();
        assert_eq!(locations.len(), evidence.len().max(1), "{}", item["id"]);
        for (location, evidence) in locations.iter().zip(evidence) {
            assert_eq!(
                location["physicalLocation"]["artifactLocation"]["uri"],
                format!("file://{}", disk.path.display())
            );
            assert_eq!(
                location["physicalLocation"]["region"]["byteOffset"], evidence["offset"],
                "{location}"
            );
            assert_eq!(location["properties"]["volume"], evidence["volume"]);
            match evidence["path"].as_str() {
                Some(path) => {
                    assert_eq!(location["logicalLocations"][0]["fullyQualifiedName"], path)
                }
                None => assert!(location.get("logicalLocations").is_none()),
            }
        }
    }
    // The offsets are where the files lie: the history's bytes are on the disk once, there.
    let history = results
        .iter()
        .find(|r| r["ruleId"] == "history.files")
        .unwrap()["locations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["logicalLocations"][0]["fullyQualifiedName"] == "/root/.bash_history")
        .unwrap()
        .clone();
    assert_eq!(
        offsets_of(&disk.path, HISTORY.as_bytes()),
        [history["physicalLocation"]["region"]["byteOffset"]
            .as_u64()
            .unwrap()]
    );
    assert_eq!(history["properties"]["volume"], "partition 1 (ext4)");
    assert_eq!(history["properties"]["user"], "root");
    // Fingerprints, never the hash or a secret.
    let keys = results
        .iter()
        .find(|r| r["ruleId"] == "ssh.authorized-keys")
        .unwrap();
    assert!(keys.to_string().contains(&disk.planted.root_key), "{keys}");
    assert!(!written.contains(&disk.planted.hash[20..]));
    assert!(!written.contains("\"secret\""), "a secret is in the log");
    let private = fs::read_to_string(disk.tree.join("home/alice/.ssh/id_ed25519")).unwrap();
    let body_line = private.lines().nth(2).unwrap();
    assert!(!written.contains(body_line));
    let (_, shown, written) = audit_sarif(&disk.path, &["--show-secrets"]);
    assert_valid_sarif(&validator, &shown, "audit --show-secrets");
    assert!(
        written.contains(body_line),
        "--show-secrets shows no secret"
    );
    let (_, masked, written) = audit_sarif(&disk.path, &["--show-secrets", "--redact"]);
    assert_valid_sarif(&validator, &masked, "audit --show-secrets --redact");
    assert!(written.contains("\"secret\"") && !written.contains(body_line));

    // An image that cannot be audited: the run says so, the other is still reported.
    let zeros = disk.dir.path().join("zeros.img");
    fs::write(&zeros, vec![0u8; MIB as usize]).unwrap();
    let (code, stdout, _) = snapsift_run(&[
        "audit",
        "-q",
        "--format",
        "sarif",
        disk.path.to_str().unwrap(),
        zeros.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    let log: Value = serde_json::from_str(&stdout).unwrap();
    assert_valid_sarif(&validator, &log, "audit with an image not audited");
    let invocation = &log["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notification = &invocation["toolExecutionNotifications"][0];
    assert_eq!(notification["level"], "error");
    assert!(
        notification["message"]["text"]
            .as_str()
            .unwrap()
            .contains("no filesystem"),
        "{notification}"
    );
    assert_eq!(
        log["runs"][0]["results"].as_array().unwrap().len(),
        results.len()
    );
}

/// The `chromium` binary, or `None` (a failure under `CI=true`) if it is not installed.
fn chromium() -> Option<&'static str> {
    match Command::new("chromium").arg("--version").output() {
        Ok(output) if output.status.success() => Some("chromium"),
        _ => {
            unavailable("chromium is not installed (apt-get install -y chromium)");
            None
        }
    }
}

/// Headless Chromium on `page` with a fresh profile, no network services, and `args`.
fn chromium_on(browser: &str, page: &Path, profile: &Path, args: &[&str]) -> String {
    let output = Command::new("timeout")
        .arg("120")
        .arg(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        output.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_html_report_renders_every_item_and_volume_in_chromium() {
    let Some(browser) = chromium() else {
        return;
    };
    let disk = planted_disk();
    let page = disk.dir.path().join("report.html");
    let (code, _, stderr) = snapsift_run(&[
        "audit",
        "-q",
        "--format",
        "html",
        "-o",
        page.to_str().unwrap(),
        disk.path.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    let html = fs::read_to_string(&page).unwrap();
    // Nothing from the network: the policy forbids it and no URL is there but the SVG
    // namespace.
    assert!(
        html.contains("http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'"),
        "{html}"
    );
    let places: Vec<&str> = html
        .match_indices("://")
        .map(|(at, _)| &html[at.saturating_sub(40)..(at + 40).min(html.len())])
        .filter(|around| !around.contains("xmlns=\"http://www.w3.org/2000/svg\""))
        .collect();
    assert!(places.is_empty(), "{places:?}");
    let (_, document, json) = audit_json(&disk.path, &[]);
    let dom = chromium_on(
        browser,
        &page,
        &disk.dir.path().join("profile"),
        &["--dump-dom"],
    );
    // Every item, with its status, and every volume of the layout, drawn and listed.
    let items = document["images"][0]["items"].as_array().unwrap();
    assert!(items.len() >= 17);
    for item in items {
        let shown = format!(
            "data-id=\"{}\" data-status=\"{}\"",
            item["id"].as_str().unwrap(),
            item["status"].as_str().unwrap()
        );
        assert!(dom.contains(&shown), "{shown} not in the DOM:\n{dom}");
        assert!(dom.contains(item["title"].as_str().unwrap()));
    }
    let volumes = document["images"][0]["layout"]["volumes"]
        .as_array()
        .unwrap();
    let labels: Vec<&str> = volumes
        .iter()
        .map(|v| v["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        ["partition 1 (ext4)", "partition 2 (swap)"],
        "{json}"
    );
    assert_eq!(volumes[0]["start"], MIB);
    assert_eq!(volumes[0]["bytes"], 24 * MIB);
    assert_eq!(volumes[1]["start"], 51200 * 512);
    assert_eq!(volumes[1]["filesystem"], false);
    for label in labels {
        let drawn = format!("<g class=\"volume {}\" data-volume=\"{label}\">", {
            if label.contains("ext4") {
                "read"
            } else {
                "unread"
            }
        });
        assert!(dom.contains(&drawn), "{drawn} not in the DOM:\n{dom}");
        assert!(dom.contains(&format!("<tr data-volume=\"{label}\">")));
    }
    // Marks where flagged evidence lies, and every piece of evidence listed.
    assert!(dom.contains("class=\"mark fail\""), "{dom}");
    assert!(dom.contains("/root/.bash_history"));
    // The names from the image are text, never elements.
    assert!(!dom.contains("<img") && !dom.contains("<b>swap"), "{dom}");
    assert!(dom.contains("&lt;img src=x onerror=alert(1)&gt;"), "{dom}");
    assert!(dom.contains("&lt;b&gt;swap&lt;/b&gt;"), "{dom}");
}
