//! `snapsift audit` on Windows-like NTFS images (`mkntfs`, files written through an `ntfs-3g`
//! mount) holding a `SAM` and an `NTUSER.DAT` made by `hivexregedit --merge` from `.reg`
//! text, Sysprep's `State.ini`, an unattend file with a `PlainText` `false` password,
//! Credential Manager, Vault and DPAPI files, browser password stores, `.rdp` files, event
//! logs and a Recycle Bin `$I`/`$R` pair: the unclean image fails (or warns) on each item
//! with its evidence, the cleaned one passes. Some paths are written in another case than the
//! checks name them: NTFS names match whatever their case. And an ext4 image whose free space
//! holds a deleted file's old contents (its inode reused, so no deleted file records them).

use std::fs;
use std::path::Path;

use serde_json::Value;
use snapsift_match::checks::encode_base64;
use snapsift_testkit::{
    Mount, Secrets, debugfs_script, mkfs_ext4, mkntfs, noise, reg_hive, workdir, write_file,
};

use crate::audit::{audit_json, evidence, item};

/// `.reg` text of `keys` (path from the root, value lines), each key's parents added before
/// it, as hivexregedit wants them.
fn reg(keys: &[(String, Vec<String>)]) -> String {
    let mut text = String::from("Windows Registry Editor Version 5.00\n\n");
    let mut written: Vec<String> = Vec::new();
    for (path, values) in keys {
        let parts: Vec<&str> = path.split('\\').collect();
        for depth in 1..=parts.len() {
            let key = parts[..depth].join("\\");
            if !written.contains(&key) {
                text.push_str(&format!("[\\{key}]\n"));
                if depth == parts.len() {
                    for line in values {
                        text.push_str(line);
                        text.push('\n');
                    }
                }
                text.push('\n');
                written.push(key);
            }
        }
    }
    text
}

/// A `.reg` binary value line.
fn hex(name: &str, bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{name}\"=hex:{}", hex.join(","))
}

/// A `.reg` string value line.
fn sz(name: &str, text: &str) -> String {
    format!("\"{name}\"=\"{text}\"")
}

/// A SAM `V` value: the name, and the LM and NT hash entries as given.
fn v_value(name: &str, lm: &[u8], nt: &[u8]) -> Vec<u8> {
    let mut header = vec![0u8; 0xCC];
    let mut data = Vec::new();
    let name: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
    for (at, bytes) in [(0x0C, &name[..]), (0x9C, lm), (0xA8, nt)] {
        header[at..at + 4].copy_from_slice(&(data.len() as u32).to_le_bytes());
        header[at + 4..at + 8].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
        data.extend_from_slice(bytes);
    }
    header.extend_from_slice(&data);
    header
}

/// A SAM `F` value with the account control flags `control` (bit 0: disabled).
fn f_value(control: u16) -> Vec<u8> {
    let mut f = vec![0u8; 0x50];
    f[0x38..0x3A].copy_from_slice(&control.to_le_bytes());
    f
}

/// The SAM key of account `rid` named `name`.
fn sam_user(rid: u32, v: Vec<u8>, f: Vec<u8>) -> (String, Vec<String>) {
    (
        format!("SAM\\Domains\\Account\\Users\\{rid:08X}"),
        vec![hex("F", &f), hex("V", &v)],
    )
}

/// An AES-era hash entry (revision 2: 24-byte header, then the encrypted hash) or an empty
/// one.
fn aes_hash(present: bool, rng: &mut Secrets) -> Vec<u8> {
    let mut entry = vec![0u8, 0, 2, 0];
    entry.extend_from_slice(&[0x10, 0, 0, 0]);
    entry.extend_from_slice(&rng.bytes(16));
    if present {
        entry.extend_from_slice(&rng.bytes(32));
    }
    entry
}

/// A Recycle Bin `$I` file (version 2) for a file of `size` bytes deleted from `path`.
fn recycle_info(path: &str, size: u64) -> Vec<u8> {
    let mut info = 2u64.to_le_bytes().to_vec();
    info.extend_from_slice(&size.to_le_bytes());
    info.extend_from_slice(&0x01db_0000_0000_0000u64.to_le_bytes());
    let name: Vec<u16> = path.encode_utf16().chain([0]).collect();
    info.extend_from_slice(&(name.len() as u32).to_le_bytes());
    info.extend(name.iter().flat_map(|u| u.to_le_bytes()));
    info
}

/// `text` as unattend's `PlainText` `false` stores it: base64 of UTF-16LE, `suffix` added.
fn unattend_encoded(text: &str, suffix: &str) -> String {
    let bytes: Vec<u8> = format!("{text}{suffix}")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    encode_base64(&bytes)
}

/// An unattend file holding `passwords` (already encoded XML elements).
fn unattend(inner: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<unattend xmlns="urn:schemas-microsoft-com:unattend" xmlns:wcm="http://schemas.microsoft.com/WMIConfig/2002/State">
  <settings pass="oobeSystem">
    <component name="Microsoft-Windows-Shell-Setup" processorArchitecture="amd64">
{inner}
      <TimeZone>UTC</TimeZone>
    </component>
  </settings>
</unattend>
"#
    )
}

/// What the unclean image holds that the audit must name.
struct Planted {
    admin_password: String,
    autologon_password: String,
}

/// The files of an unclean Windows under `root` (an ntfs-3g mount).
fn plant(root: &Path, hives: &Path, rng: &mut Secrets) -> Planted {
    let config = root.join("Windows/System32/config");
    fs::create_dir_all(&config).unwrap();
    let sam = reg(&[
        sam_user(
            500,
            v_value("Administrator", &aes_hash(false, rng), &aes_hash(true, rng)),
            f_value(0x0210),
        ),
        sam_user(
            501,
            v_value("Guest", &[0, 0, 1, 0], &[0, 0, 1, 0]),
            f_value(0x0215),
        ),
        {
            let mut rc4 = vec![0u8, 0, 1, 0];
            rc4.extend_from_slice(&rng.bytes(16));
            sam_user(1001, v_value("alice", &rc4, &rc4), f_value(0x0210))
        },
        (
            "SAM\\Domains\\Account\\Users\\Names\\alice".to_owned(),
            vec!["@=hex(3e9):".to_owned()],
        ),
    ]);
    reg_hive(&hives.join("SAM"), &sam);
    fs::copy(hives.join("SAM"), config.join("SAM")).unwrap();
    fs::write(config.join("SYSTEM"), b"regf").unwrap();
    write_file(
        root,
        "Windows/Setup/State/State.ini",
        "[State]\r\nImageState=IMAGE_STATE_COMPLETE\r\n",
    );
    let admin_password = format!("Adm-{}", rng.alnum(14));
    let autologon_password = format!("Auto-{}", rng.alnum(12));
    write_file(
        root,
        "Windows/Panther/Unattend.xml",
        unattend(&format!(
            "      <UserAccounts><AdministratorPassword><Value>{}</Value><PlainText>false</PlainText></AdministratorPassword></UserAccounts>\n\
             \x20     <AutoLogon><Password><Value>{}</Value><PlainText>false</PlainText></Password><Enabled>true</Enabled><Username>alice</Username></AutoLogon>",
            unattend_encoded(&admin_password, "AdministratorPassword"),
            unattend_encoded(&autologon_password, "Password"),
        )),
    );
    let alice = root.join("Users/alice");
    let app = "AppData/Roaming/Microsoft";
    write_file(
        &alice,
        &format!("{app}/Credentials/DFBE70A7E5CC19A398EBF1B96859CE5D"),
        rng.bytes(400),
    );
    let vault = "AppData/Local/Microsoft/Vault/4BF4C442-9B8A-41A0-B380-DD4A704DDB28";
    write_file(&alice, &format!("{vault}/Policy.vpol"), rng.bytes(300));
    write_file(
        &alice,
        &format!("{vault}/2F6A8C6E0B1D4E1A9C3B5D7F9E1A3C5E.vcrd"),
        rng.bytes(500),
    );
    let protect = format!("{app}/Protect/S-1-5-21-1004336348-1177238915-682003330-1001");
    write_file(
        &alice,
        &format!("{protect}/8b5c4f3e-1a2b-4c3d-9e8f-0a1b2c3d4e5f"),
        rng.bytes(468),
    );
    write_file(&alice, &format!("{protect}/Preferred"), rng.bytes(24));
    let mut sqlite = b"SQLite format 3\0".to_vec();
    sqlite.extend_from_slice(&rng.bytes(2000));
    write_file(
        &alice,
        "AppData/Local/Google/Chrome/User Data/Default/Login Data",
        &sqlite,
    );
    let firefox = "AppData/Roaming/Mozilla/Firefox/Profiles/x1y2z3.default-release";
    write_file(
        &alice,
        &format!("{firefox}/logins.json"),
        r#"{"nextId":2,"logins":[{"id":1,"hostname":"https://intranet.example","encryptedUsername":"MDIEEPgAAAAAAAAAAAAAAAAAAAEwFAYIKoZIhvcNAwcECA==","encryptedPassword":"MDoEEPgAAAAAAAAAAAAAAAAAAAEwFAYIKoZIhvcNAwcECA=="}]}"#,
    );
    write_file(&alice, &format!("{firefox}/key4.db"), &sqlite);
    // Written in lower case: NTFS names match the check's whatever their case.
    write_file(
        &alice,
        "appdata/roaming/microsoft/windows/powershell/psreadline/consolehost_history.txt",
        "Enter-PSSession -ComputerName db01\n",
    );
    write_file(
        &alice,
        "Documents/prod.RDP",
        "full address:s:10.0.0.5\r\nusername:s:CORP\\alice\r\n",
    );
    let ntuser = vec![
        (
            "Software\\Microsoft\\Terminal Server Client\\Servers\\10.0.0.5".to_owned(),
            vec![sz("UsernameHint", "CORP\\\\alice")],
        ),
        (
            "Software\\Martin Prikryl\\WinSCP 2\\Sessions\\deploy@prod".to_owned(),
            vec![
                sz("HostName", "prod.example"),
                sz("UserName", "deploy"),
                sz("Password", &rng.alnum(40)),
            ],
        ),
        (
            "Software\\SimonTatham\\PuTTY\\Sessions\\jump".to_owned(),
            vec![
                sz("HostName", "jump.example"),
                sz("ProxyUsername", "proxyuser"),
                sz("ProxyPassword", &rng.alnum(12)),
            ],
        ),
        (
            "Software\\SimonTatham\\PuTTY\\Sessions\\plain".to_owned(),
            vec![sz("HostName", "plain.example"), sz("ProxyPassword", "")],
        ),
        // A value past 16,344 bytes (hivex writes it in one cell; Windows would make it a
        // db list, which the unit tests build).
        (
            "Software\\Vendor".to_owned(),
            vec![hex("Blob", &rng.bytes(40_000))],
        ),
    ];
    reg_hive(&hives.join("NTUSER.DAT"), &reg(&ntuser));
    fs::copy(hives.join("NTUSER.DAT"), alice.join("NTUSER.DAT")).unwrap();
    // Another profile's hive, its root key's offset past the end: said, with the byte.
    let mut broken = fs::read(hives.join("NTUSER.DAT")).unwrap();
    broken[36..40].copy_from_slice(&0x00ff_ff00u32.to_le_bytes());
    write_file(&root.join("Users/bob"), "ntuser.dat", broken);
    let logs = root.join("Windows/System32/winevt/Logs");
    fs::create_dir_all(&logs).unwrap();
    for (name, len) in [("Security.evtx", 69_632usize), ("System.evtx", 1_118_208)] {
        let mut evtx = b"ElfFile\0".to_vec();
        evtx.resize(len, 0);
        fs::write(logs.join(name), evtx).unwrap();
    }
    let bin = root.join("$Recycle.Bin/S-1-5-21-1004336348-1177238915-682003330-1001");
    fs::create_dir_all(&bin).unwrap();
    let deleted = "C:\\Users\\alice\\Desktop\\passwords.txt";
    let content = format!("vpn: {}\n", rng.alnum(20));
    fs::write(
        bin.join("$IW1X2Y3.txt"),
        recycle_info(deleted, content.len() as u64),
    )
    .unwrap();
    fs::write(bin.join("$RW1X2Y3.txt"), &content).unwrap();
    Planted {
        admin_password,
        autologon_password,
    }
}

/// The files of the same Windows cleaned as the checklist says.
fn clean(root: &Path, hives: &Path, rng: &mut Secrets) {
    let config = root.join("Windows/System32/config");
    fs::create_dir_all(&config).unwrap();
    let sam = reg(&[
        sam_user(
            500,
            v_value(
                "Administrator",
                &aes_hash(false, rng),
                &aes_hash(false, rng),
            ),
            f_value(0x0211),
        ),
        sam_user(
            501,
            v_value("Guest", &[0, 0, 1, 0], &[0, 0, 1, 0]),
            f_value(0x0215),
        ),
        // Disabled with a hash (as WDAGUtilityAccount is): listed, passing.
        sam_user(
            504,
            v_value(
                "WDAGUtilityAccount",
                &aes_hash(false, rng),
                &aes_hash(true, rng),
            ),
            f_value(0x0211),
        ),
    ]);
    reg_hive(&hives.join("SAM.clean"), &sam);
    fs::copy(hives.join("SAM.clean"), config.join("SAM")).unwrap();
    write_file(
        root,
        "Windows/Setup/State/State.ini",
        "[State]\r\nImageState=IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE\r\n",
    );
    write_file(
        root,
        "Windows/System32/Sysprep/Panther/setupact.log",
        "Sysprep_Generalize... done\r\n",
    );
    write_file(
        root,
        "Windows/Panther/unattend.xml",
        unattend(
            "      <AutoLogon><Password><Value></Value><PlainText>true</PlainText></Password><Enabled>false</Enabled></AutoLogon>",
        ),
    );
    let alice = root.join("Users/alice");
    write_file(
        &alice,
        "AppData/Local/Microsoft/Vault/4BF4C442-9B8A-41A0-B380-DD4A704DDB28/Policy.vpol",
        rng.bytes(300),
    );
    write_file(
        &alice,
        "AppData/Roaming/Microsoft/Protect/S-1-5-21-1-2-3-1001/Preferred",
        rng.bytes(24),
    );
    write_file(
        &alice,
        "AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/ConsoleHost_history.txt",
        "",
    );
    let ntuser = reg(&[
        (
            "Software\\Microsoft\\Terminal Server Client\\Default".to_owned(),
            vec![],
        ),
        ("Software\\SimonTatham\\PuTTY\\Sessions".to_owned(), vec![]),
    ]);
    reg_hive(&hives.join("NTUSER.clean"), &ntuser);
    fs::copy(hives.join("NTUSER.clean"), alice.join("NTUSER.DAT")).unwrap();
}

/// The detail strings of item `id`.
fn details(document: &Value, id: &str) -> Vec<String> {
    item(document, id)["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"].as_str().unwrap().to_owned())
        .collect()
}

/// The status of item `id`.
fn status(document: &Value, id: &str) -> String {
    item(document, id)["status"].as_str().unwrap().to_owned()
}

#[test]
fn an_unclean_windows_fails_each_item_and_the_cleaned_one_passes() {
    let dir = workdir();
    let hives = dir.path().join("hives");
    fs::create_dir_all(&hives).unwrap();
    let mut rng = Secrets::new(2323);
    let image = dir.path().join("windows.img");
    mkntfs(&image, 48 << 20, None);
    let mount = Mount::new(&image, &dir.path().join("mnt"));
    let planted = plant(&mount.dir.clone(), &hives, &mut rng);
    mount.finish();

    let (code, document, json) = audit_json(&image, &[]);
    assert_eq!(code, 1, "{json}");
    for (id, want) in [
        ("windows.generalized", "fail"),
        ("windows.unattend-passwords", "fail"),
        ("windows.local-accounts", "fail"),
        ("windows.credential-manager", "fail"),
        ("windows.dpapi-master-keys", "warn"),
        ("credentials.browser-passwords", "fail"),
        ("windows.rdp-servers", "warn"),
        ("windows.rdp-files", "warn"),
        ("windows.winscp-sessions", "fail"),
        ("windows.putty-sessions", "fail"),
        ("windows.event-logs", "warn"),
        ("windows.recycle-bin", "fail"),
        ("history.files", "fail"),
    ] {
        assert_eq!(status(&document, id), want, "{id}: {}", item(&document, id));
    }
    assert!(
        details(&document, "windows.generalized")[0].contains("IMAGE_STATE_COMPLETE"),
        "{}",
        item(&document, "windows.generalized")
    );
    // Unattend: both passwords, decoded, never printed unless asked for.
    let unattend = item(&document, "windows.unattend-passwords");
    let found: Vec<(String, String)> = unattend["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_owned(),
                e["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(found.len(), 2, "{unattend}");
    assert!(
        found
            .iter()
            .all(|(p, d)| p == "/Windows/Panther/Unattend.xml"
                && d.contains("stored base64 (PlainText false), decoded")),
        "{found:?}"
    );
    assert!(
        found[0]
            .1
            .starts_with("UserAccounts AdministratorPassword of 18 characters")
    );
    assert_eq!(unattend["evidence"][1]["user"], "alice");
    assert!(!json.contains(&planted.admin_password) && !json.contains("\"secret\""));
    let (_, shown, _) = audit_json(&image, &["--show-secrets"]);
    let secrets: Vec<&str> = item(&shown, "windows.unattend-passwords")["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["secret"].as_str().unwrap())
        .collect();
    assert_eq!(
        secrets,
        [
            planted.admin_password.as_str(),
            planted.autologon_password.as_str()
        ]
    );
    let (_, masked, masked_json) = audit_json(&image, &["--show-secrets", "--redact"]);
    assert!(!masked_json.contains(&planted.admin_password));
    assert!(
        item(&masked, "windows.unattend-passwords")["evidence"][0]["secret"]
            .as_str()
            .unwrap()
            .contains('*')
    );
    // SAM: each account, from the structure.
    let accounts: Vec<(String, String)> = item(&document, "windows.local-accounts")["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["user"].as_str().unwrap().to_owned(),
                e["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        accounts,
        [
            (
                "Administrator".to_owned(),
                "local account, RID 500, enabled, NT hash present".to_owned()
            ),
            (
                "Guest".to_owned(),
                "local account, RID 501, disabled, no password hash".to_owned()
            ),
            (
                "alice".to_owned(),
                "local account, RID 1001, enabled, NT hash and LM hash present".to_owned()
            ),
        ]
    );
    let paths = |id: &str| -> Vec<String> {
        let mut paths: Vec<String> = evidence(&document, id, "bytes")
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        paths.sort();
        paths
    };
    assert_eq!(
        paths("windows.credential-manager"),
        [
            "/Users/alice/AppData/Local/Microsoft/Vault/4BF4C442-9B8A-41A0-B380-DD4A704DDB28/2F6A8C6E0B1D4E1A9C3B5D7F9E1A3C5E.vcrd",
            "/Users/alice/AppData/Roaming/Microsoft/Credentials/DFBE70A7E5CC19A398EBF1B96859CE5D",
        ]
    );
    assert_eq!(
        evidence(&document, "windows.credential-manager", "user")[0].1,
        "alice"
    );
    assert_eq!(
        paths("windows.dpapi-master-keys"),
        [
            "/Users/alice/AppData/Roaming/Microsoft/Protect/S-1-5-21-1004336348-1177238915-682003330-1001/8b5c4f3e-1a2b-4c3d-9e8f-0a1b2c3d4e5f"
        ]
    );
    assert_eq!(
        paths("credentials.browser-passwords"),
        [
            "/Users/alice/AppData/Local/Google/Chrome/User Data/Default/Login Data",
            "/Users/alice/AppData/Roaming/Mozilla/Firefox/Profiles/x1y2z3.default-release/key4.db",
            "/Users/alice/AppData/Roaming/Mozilla/Firefox/Profiles/x1y2z3.default-release/logins.json",
        ]
    );
    assert_eq!(
        paths("history.files"),
        [
            "/Users/alice/appdata/roaming/microsoft/windows/powershell/psreadline/consolehost_history.txt"
        ]
    );
    assert_eq!(
        paths("windows.rdp-files"),
        ["/Users/alice/Documents/prod.RDP"]
    );
    // NTUSER.DAT: the servers and sessions, a saved password said, never shown.
    assert_eq!(
        details(&document, "windows.rdp-servers")[0],
        "Servers \"10.0.0.5\" (UsernameHint=CORP\\alice)"
    );
    assert_eq!(
        details(&document, "windows.winscp-sessions"),
        [
            "Sessions \"deploy@prod\" (HostName=prod.example, UserName=deploy): a saved Password value",
            "cannot be read as a hive: registry hive: at byte 16781056: cell offset past the end \
             of the bins",
        ]
    );
    assert_eq!(
        evidence(&document, "windows.winscp-sessions", "path")[1].0,
        "/Users/bob/ntuser.dat"
    );
    let putty = item(&document, "windows.putty-sessions");
    assert_eq!(
        details(&document, "windows.putty-sessions"),
        [
            "Sessions \"jump\" (HostName=jump.example, ProxyUsername=proxyuser): a saved ProxyPassword value",
            "Sessions \"plain\" (HostName=plain.example)",
            "cannot be read as a hive: registry hive: at byte 16781056: cell offset past the end \
             of the bins",
        ],
        "{putty}"
    );
    assert_eq!(putty["evidence"][0]["user"], "alice");
    // Event logs: counted and summed, the largest first.
    let logs = item(&document, "windows.event-logs");
    assert_eq!(logs["evidence"][0]["count"], 2);
    assert_eq!(logs["evidence"][0]["bytes"], 69_632 + 1_118_208);
    assert_eq!(
        logs["evidence"][1]["path"],
        "/Windows/System32/winevt/Logs/System.evtx"
    );
    // The Recycle Bin: the original name from the $I file.
    let recycled = item(&document, "windows.recycle-bin");
    assert_eq!(recycled["evidence"][0]["count"], 1, "{recycled}");
    assert!(
        recycled["evidence"][1]["detail"]
            .as_str()
            .unwrap()
            .starts_with("deleted C:\\Users\\alice\\Desktop\\passwords.txt, 26 bytes"),
        "{recycled}"
    );
    assert_eq!(
        recycled["evidence"][1]["user"],
        "S-1-5-21-1004336348-1177238915-682003330-1001"
    );

    // The same Windows cleaned: every item passes.
    let clean_image = dir.path().join("clean.img");
    mkntfs(&clean_image, 48 << 20, None);
    let mount = Mount::new(&clean_image, &dir.path().join("mnt2"));
    clean(&mount.dir.clone(), &hives, &mut rng);
    mount.finish();
    let (code, document, json) = audit_json(&clean_image, &["--fail-on", "warn"]);
    assert_eq!(code, 0, "{json}");
    for item in document["images"][0]["items"].as_array().unwrap() {
        assert_eq!(item["status"], "pass", "{item}");
    }
    let generalized = details(&document, "windows.generalized");
    assert_eq!(
        generalized,
        [
            "ImageState IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE: generalized",
            "Sysprep log, 28 bytes"
        ]
    );
    assert!(
        details(&document, "windows.local-accounts")
            .iter()
            .any(|d| d == "local account, RID 504, disabled, NT hash present")
    );
}

#[test]
fn a_windows_volume_without_sysprep_state_fails() {
    let dir = workdir();
    let image = dir.path().join("windows.img");
    mkntfs(&image, 16 << 20, None);
    let mount = Mount::new(&image, &dir.path().join("mnt"));
    write_file(&mount.dir, "WINDOWS/system32/CONFIG/system", b"regf");
    mount.finish();
    let (_, document, _) = audit_json(&image, &[]);
    assert_eq!(status(&document, "windows.generalized"), "fail");
    assert!(details(&document, "windows.generalized")[0].contains("never generalized"));
    // A Linux volume is no Windows: the check does not apply.
    let tree = dir.path().join("tree");
    write_file(&tree, "etc/hostname", "x\n");
    let linux = dir.path().join("linux.img");
    mkfs_ext4(&linux, &tree, 16);
    let (_, document, _) = audit_json(&linux, &[]);
    assert_eq!(status(&document, "windows.generalized"), "pass");
    assert_eq!(details(&document, "windows.generalized").len(), 0);
}

#[test]
fn old_contents_in_free_space_fail_and_zeroed_free_space_passes() {
    let dir = workdir();
    let tree = dir.path().join("tree");
    write_file(&tree, "etc/hostname", "x\n");
    let image = dir.path().join("fs.img");
    mkfs_ext4(&image, &tree, 32);
    let (_, document, _) = audit_json(&image, &[]);
    assert_eq!(status(&document, "residual.free-space"), "pass");
    assert_eq!(
        item(&document, "residual.free-space")["evidence"][0]["count"],
        0
    );
    // 4 MiB of old contents, deleted; its inode then reused by a small file, so that no
    // deleted file records the blocks: only the free space holds them.
    let old = dir.path().join("old.bin");
    fs::write(&old, noise(5, 4 << 20)).unwrap();
    let small = write_file(dir.path(), "small.txt", "new\n");
    debugfs_script(
        &image,
        &format!(
            "write {} /old.bin\nrm /old.bin\nwrite {} /new.txt\n",
            old.display(),
            small.display()
        ),
    );
    let (code, document, json) = audit_json(&image, &[]);
    assert_eq!(code, 1);
    let free = item(&document, "residual.free-space");
    assert_eq!(free["status"], "fail", "{json}");
    let evidence = &free["evidence"][0];
    assert!(evidence["count"].as_u64().unwrap() > 0, "{evidence}");
    // About 4 MiB estimated from the sample (of about 28 MiB free).
    let estimate = evidence["bytes"].as_u64().unwrap();
    assert!(
        (3 << 20..6 << 20).contains(&estimate),
        "{estimate}: {evidence}"
    );
    assert!(
        evidence["detail"]
            .as_str()
            .unwrap()
            .contains("sampled 4 KiB blocks hold old contents"),
        "{evidence}"
    );
    assert_eq!(
        status(&document, "residual.deleted-files"),
        "pass",
        "{json}"
    );
}
