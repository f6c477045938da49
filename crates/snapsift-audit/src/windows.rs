//! The Windows files the audit reads for what they hold, as an image holds them: Sysprep's
//! `State.ini`, unattend answer files, the `SAM` hive's accounts, the Recycle Bin's `$I`
//! files. Untrusted bytes: no panics, every length checked, bounded work.

use snapsift_match::checks::decode_base64;

use crate::AuditError;
use crate::hive::{Hive, utf16le};

/// The `ImageState` of a Sysprep `State.ini` (`[State]` section; the first one if it is
/// given twice), as written, if there is one.
pub fn image_state(text: &str) -> Option<String> {
    let mut in_state = false;
    for line in text.lines() {
        let line = line.trim().trim_start_matches('\u{feff}');
        if line.starts_with('[') {
            in_state = line.eq_ignore_ascii_case("[State]");
            continue;
        }
        if !in_state {
            continue;
        }
        if let Some((key, value)) = line.split_once('=')
            && key.trim().eq_ignore_ascii_case("ImageState")
        {
            return Some(value.trim().trim_matches('"').to_owned());
        }
    }
    None
}

/// The text of a file that may be UTF-16 (a byte order mark says so) or UTF-8.
pub fn text_of(bytes: &[u8]) -> String {
    match bytes {
        [0xff, 0xfe, rest @ ..] => utf16le(rest),
        [0xfe, 0xff, rest @ ..] => {
            let swapped: Vec<u8> = rest.chunks_exact(2).flat_map(|p| [p[1], p[0]]).collect();
            utf16le(&swapped)
        }
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// A password an unattend answer file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnattendPassword {
    /// The element holding it: `AdministratorPassword`, `Password`...
    pub element: String,
    /// The element it is in: `AutoLogon`, `LocalAccount`, `Credentials`, `UserAccounts`.
    pub within: String,
    /// The account it is for (the `Username` or `Name` beside it), where given.
    pub user: Option<String>,
    /// The password: decoded when `PlainText` is `false`.
    pub value: String,
    /// It was stored base64-encoded (`PlainText` `false`).
    pub encoded: bool,
}

/// The elements of an answer file that hold passwords.
const PASSWORD_ELEMENTS: [&str; 4] = [
    "Password",
    "AdministratorPassword",
    "OfflineAdministratorPassword",
    "DomainAdminPassword",
];
/// Elements nested deeper than this are read as text of the one at this depth.
const MAX_DEPTH: usize = 256;

/// An element being read.
#[derive(Default)]
struct Frame {
    name: String,
    /// Its text (what is directly in it).
    text: String,
    /// Its children's `Value`, `PlainText`, `Username`, `Name` texts.
    value: Option<String>,
    plain_text: Option<String>,
    user: Option<String>,
    /// Passwords of its children, waiting for a user name that may come after them.
    pending: Vec<UnattendPassword>,
}

/// The passwords of an unattend answer file (`unattend.xml`, `autounattend.xml`,
/// `sysprep.xml`) with a value: `<Password>`, `<AdministratorPassword>`... holding a
/// `<Value>` (decoded from base64 UTF-16LE, less the element's name Windows appends, when
/// `<PlainText>` is `false`) or text of their own (`<Credentials>`). A scan of tags, not a
/// full XML parser: a file Windows would refuse is still read for what it says.
pub fn unattend_passwords(text: &str) -> Vec<UnattendPassword> {
    let mut stack: Vec<Frame> = vec![Frame::default()];
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let (before, after) = rest.split_at(open);
        if let Some(top) = stack.last_mut() {
            top.text.push_str(&unescape(before));
        }
        let (tag, next) = if let Some(body) = after.strip_prefix("<!--") {
            (
                "",
                body.find("-->")
                    .map_or("", |e| &body[e.saturating_add(3)..]),
            )
        } else if let Some(body) = after.strip_prefix("<![CDATA[") {
            let end = body.find("]]>").unwrap_or(body.len());
            if let Some(top) = stack.last_mut() {
                top.text.push_str(&body[..end]);
            }
            ("", body.get(end.saturating_add(3)..).unwrap_or(""))
        } else {
            match after.find('>') {
                Some(close) => (&after[1..close], &after[close.saturating_add(1)..]),
                None => break,
            }
        };
        rest = next;
        if tag.is_empty() || tag.starts_with(['?', '!']) {
            continue;
        }
        let self_closing = tag.ends_with('/');
        if let Some(name) = tag.strip_prefix('/') {
            let name = local_name(name);
            // Close up to the matching element (a missing end tag closes with it).
            if let Some(at) = stack.iter().rposition(|f| f.name == name)
                && at > 0
            {
                while stack.len() > at {
                    close(&mut stack, &mut found);
                }
            }
            continue;
        }
        let name = local_name(tag.trim_end_matches('/')).to_owned();
        if stack.len() > MAX_DEPTH {
            continue;
        }
        stack.push(Frame {
            name,
            ..Frame::default()
        });
        if self_closing {
            close(&mut stack, &mut found);
        }
    }
    while stack.len() > 1 {
        close(&mut stack, &mut found);
    }
    if let Some(root) = stack.pop() {
        found.extend(root.pending);
    }
    found
}

/// An element's name without its namespace prefix and attributes.
fn local_name(tag: &str) -> &str {
    let name = tag
        .split(|c: char| c.is_whitespace() || c == '/')
        .next()
        .unwrap_or("");
    name.rsplit(':').next().unwrap_or(name)
}

/// XML's five entities and numeric references.
fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let Some(end) = tail.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end.saturating_add(1)..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Closes the element on top of `stack`, handing what it says to its parent.
fn close(stack: &mut Vec<Frame>, found: &mut Vec<UnattendPassword>) {
    let Some(frame) = stack.pop() else {
        return;
    };
    let Some(parent) = stack.last_mut() else {
        found.extend(frame.pending);
        return;
    };
    let text = frame.text.trim().to_owned();
    match frame.name.as_str() {
        "Value" => parent.value = Some(text.clone()),
        "PlainText" => parent.plain_text = Some(text.clone()),
        "Username" | "Name" => parent.user = Some(text.clone()),
        _ => {}
    }
    if PASSWORD_ELEMENTS.contains(&frame.name.as_str()) {
        let encoded = frame
            .plain_text
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case("false"));
        let raw = frame.value.unwrap_or(text);
        let value = if encoded {
            decode_password(&raw, &frame.name)
        } else {
            raw
        };
        if !value.is_empty() {
            parent.pending.push(UnattendPassword {
                element: frame.name.clone(),
                within: parent.name.clone(),
                user: None,
                value,
                encoded,
            });
        }
    }
    // The element's own passwords take the user named in it.
    let user = frame.user.filter(|u| !u.is_empty());
    for mut password in frame.pending {
        if password.user.is_none() {
            password.user.clone_from(&user);
        }
        found.push(password);
    }
}

/// A `PlainText` `false` value: base64 of UTF-16LE text, the element's name appended
/// (`…Password`, `…AdministratorPassword`), which is taken off. Text that is not base64 is
/// kept as written (Windows would take it as the password as well).
fn decode_password(raw: &str, element: &str) -> String {
    let Ok(bytes) = decode_base64(raw.as_bytes()) else {
        return raw.to_owned();
    };
    let text = utf16le(&bytes);
    match text.strip_suffix(element) {
        Some(password) => password.to_owned(),
        None => text,
    }
}

/// A local account of a `SAM` hive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamAccount {
    /// Its relative ID (500 is the built-in Administrator).
    pub rid: u32,
    /// Its name (from its `V` value; else from its `Names` key).
    pub name: String,
    /// Its `V` value holds an NT hash (encrypted: never read here).
    pub nt_hash: bool,
    /// Its `V` value holds an LM hash.
    pub lm_hash: bool,
    /// Its `F` value's account control flags say it is disabled (`None`: no `F` value).
    pub disabled: Option<bool>,
}

/// The header of a `V` value: entries of (offset from its end, length, unknown).
const V_HEADER: usize = 0xCC;
/// `F` value: the account control flags (`ACB_DISABLED` is bit 0).
const F_CONTROL: usize = 0x38;

/// The local accounts of a `SAM` hive (`SAM\Domains\Account\Users`: a key per RID in
/// hexadecimal with `F` and `V` values), at most `max`.
pub fn sam_accounts(hive: &Hive, max: usize) -> Result<Vec<SamAccount>, AuditError> {
    let root = hive.root_key()?;
    let Some(users) = root.descend("SAM\\Domains\\Account\\Users")? else {
        return Ok(Vec::new());
    };
    let mut accounts = Vec::new();
    for key in users.subkeys()? {
        if accounts.len() >= max {
            break;
        }
        let Ok(rid) = u32::from_str_radix(&key.name()?, 16) else {
            continue;
        };
        let values = key.values()?;
        let data_of = |name: &str| -> Result<Vec<u8>, AuditError> {
            match values.iter().find(|v| v.name.eq_ignore_ascii_case(name)) {
                Some(value) => value.data(),
                None => Ok(Vec::new()),
            }
        };
        let v = data_of("V")?;
        let entry = |at: usize| -> Option<&[u8]> {
            let field = |i: usize| {
                let start = at.checked_add(i)?;
                let bytes = v.get(start..start.checked_add(4)?)?;
                usize::try_from(u32::from_le_bytes(bytes.try_into().ok()?)).ok()
            };
            let start = V_HEADER.checked_add(field(0)?)?;
            v.get(start..start.checked_add(field(4)?)?)
        };
        let name = entry(0x0C).map(utf16le).unwrap_or_default();
        let flags = data_of("F")?;
        let disabled = flags
            .get(F_CONTROL..F_CONTROL.saturating_add(2))
            .map(|b| u16::from_le_bytes([b[0], b[1]]) & 1 != 0);
        accounts.push(SamAccount {
            rid,
            name,
            nt_hash: entry(0xA8).is_some_and(holds_hash),
            lm_hash: entry(0x9C).is_some_and(holds_hash),
            disabled,
        });
    }
    // Names from `Names` where `V` gave none (each name's default value's type is its RID).
    if accounts.iter().any(|a| a.name.is_empty())
        && let Some(names) = users.subkey("Names")?
    {
        for key in names.subkeys()? {
            let Some(default) = key.value("")? else {
                continue;
            };
            if let Some(account) = accounts
                .iter_mut()
                .find(|a| a.rid == default.kind && a.name.is_empty())
            {
                account.name = key.name()?;
            }
        }
    }
    Ok(accounts)
}

/// Whether a `V` value's hash entry holds a hash, from its structure: an RC4-era entry
/// (revision 1) is a 4-byte header and the 16-byte hash; an AES-era one (revision 2) a
/// 24-byte header (with the salt) and the encrypted hash. A header alone is no hash.
fn holds_hash(entry: &[u8]) -> bool {
    match entry.get(2) {
        Some(1) => entry.len() >= 20,
        Some(2) => entry.len() > 24,
        Some(_) => entry.len() > 24,
        None => false,
    }
}

/// What a Recycle Bin `$I` file says of the file it stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recycled {
    /// The file's size when it was deleted.
    pub size: u64,
    /// Its original path.
    pub path: String,
}

/// A `$I` file: version 1 (Vista to 8.1: the path in 520 bytes) or 2 (10 on: its length in
/// characters, then the path).
pub fn recycled(bytes: &[u8]) -> Option<Recycled> {
    let u64_at = |at: usize| {
        Some(u64::from_le_bytes(
            bytes.get(at..at.checked_add(8)?)?.try_into().ok()?,
        ))
    };
    let version = u64_at(0)?;
    let size = u64_at(8)?;
    let name = match version {
        1 => bytes.get(24..)?,
        2 => {
            let chars = u32::from_le_bytes(bytes.get(24..28)?.try_into().ok()?);
            let len = usize::try_from(chars).ok()?.checked_mul(2)?;
            let end = 28usize.checked_add(len)?.min(bytes.len());
            bytes.get(28..end)?
        }
        _ => return None,
    };
    let text = utf16le(name);
    let path = text.split('\0').next().unwrap_or("").to_owned();
    Some(Recycled { size, path })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hive::build::HiveBuilder;
    use snapsift_match::checks::encode_base64;

    fn b64_utf16(text: &str) -> String {
        let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        encode_base64(&bytes)
    }

    #[test]
    fn state_ini() {
        let ini = "[State]\r\nImageState=IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE\r\n";
        assert_eq!(
            image_state(ini).as_deref(),
            Some("IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE")
        );
        assert_eq!(image_state("[Other]\nImageState=X\n"), None);
        let utf16: Vec<u8> = [0xff, 0xfe]
            .into_iter()
            .chain(ini.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(
            image_state(&text_of(&utf16)).as_deref(),
            Some("IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE")
        );
    }

    #[test]
    fn unattend_passwords_decoded() {
        let xml = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<unattend xmlns="urn:schemas-microsoft-com:unattend" xmlns:wcm="http://schemas.microsoft.com/WMIConfig/2002/State">
 <settings pass="oobeSystem"><component name="Microsoft-Windows-Shell-Setup">
  <UserAccounts>
   <AdministratorPassword><Value>{admin}</Value><PlainText>false</PlainText></AdministratorPassword>
   <LocalAccounts><LocalAccount wcm:action="add">
     <Password><Value>{local}</Value><PlainText>false</PlainText></Password>
     <Name>deploy</Name><Group>Administrators</Group>
   </LocalAccount></LocalAccounts>
  </UserAccounts>
  <AutoLogon><Password><Value>Plain&amp;Text1</Value><PlainText>true</PlainText></Password>
   <Enabled>true</Enabled><Username>deploy</Username></AutoLogon>
  <!-- <Password><Value>commented</Value></Password> -->
  <Identification><Credentials><Domain>corp</Domain><Password>joinpw</Password><Username>joiner</Username></Credentials></Identification>
  <AutoLogon><Password><Value></Value><PlainText>true</PlainText></Password></AutoLogon>
 </component></settings>
</unattend>"#,
            admin = b64_utf16("Adm1n-secretAdministratorPassword"),
            local = b64_utf16("l0cal-secretPassword"),
        );
        let found = unattend_passwords(&xml);
        let got: Vec<(&str, &str, Option<&str>, &str, bool)> = found
            .iter()
            .map(|p| {
                (
                    p.element.as_str(),
                    p.within.as_str(),
                    p.user.as_deref(),
                    p.value.as_str(),
                    p.encoded,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                // An element's passwords are given when it closes: the nested one first.
                (
                    "Password",
                    "LocalAccount",
                    Some("deploy"),
                    "l0cal-secret",
                    true
                ),
                (
                    "AdministratorPassword",
                    "UserAccounts",
                    None,
                    "Adm1n-secret",
                    true
                ),
                (
                    "Password",
                    "AutoLogon",
                    Some("deploy"),
                    "Plain&Text1",
                    false
                ),
                ("Password", "Credentials", Some("joiner"), "joinpw", false),
            ]
        );
        // Hostile shapes end without a panic.
        for bad in [
            "<",
            "<a",
            "<Password><Value>",
            "</x></y>",
            "<!--",
            "<![CDATA[x",
        ] {
            let _ = unattend_passwords(bad);
        }
        let deep = "<a>".repeat(100_000) + "<Password>x</Password>";
        assert_eq!(unattend_passwords(&deep).len(), 0);
    }

    /// A `V` value for `name` with NT hash entry `nt` and LM hash entry `lm`.
    fn v_value(name: &str, lm: &[u8], nt: &[u8]) -> Vec<u8> {
        let mut header = vec![0u8; V_HEADER];
        let mut data = Vec::new();
        let mut put = |at: usize, bytes: &[u8], header: &mut Vec<u8>| {
            header[at..at + 4].copy_from_slice(&(data.len() as u32).to_le_bytes());
            header[at + 4..at + 8].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
            data.extend_from_slice(bytes);
        };
        let name: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
        put(0x0C, &name, &mut header);
        put(0x9C, lm, &mut header);
        put(0xA8, nt, &mut header);
        header.extend_from_slice(&data);
        header
    }

    #[test]
    fn sam_accounts_from_structure() {
        let mut b = HiveBuilder::new();
        let mut aes = vec![0u8, 0, 2, 0];
        aes.resize(24 + 16, 0xAA);
        let mut f_disabled = vec![0u8; 0x50];
        f_disabled[0x38] = 0x11;
        let f_enabled = vec![0u8; 0x50];
        let admin_v = b.value("V", 3, &v_value("Administrator", &[0, 0, 2, 0], &aes));
        let admin_f = b.value("F", 3, &f_disabled);
        let admin = b.key("000001F4", &[], &[admin_v, admin_f]);
        let mut rc4 = vec![0u8, 0, 1, 0];
        rc4.resize(20, 0xBB);
        let user_v = b.value("V", 3, &v_value("alice", &rc4, &rc4));
        let user_f = b.value("F", 3, &f_enabled);
        let user = b.key("000003E9", &[], &[user_v, user_f]);
        let guest_v = b.value("V", 3, &v_value("", &[0, 0, 1, 0], &[0, 0, 1, 0]));
        let guest = b.key("000001F5", &[], &[guest_v]);
        let default = {
            let mut vk = vec![0u8; 20];
            vk[..2].copy_from_slice(b"vk");
            vk[4..8].copy_from_slice(&0x8000_0000u32.to_le_bytes());
            vk[12..16].copy_from_slice(&0x1F5u32.to_le_bytes());
            b.cell(&vk)
        };
        let guest_name = b.key("Guest", &[], &[default]);
        let names = b.key("Names", &[guest_name], &[]);
        let users = b.key("Users", &[admin, user, guest, names], &[]);
        let account = b.key("Account", &[users], &[]);
        let domains = b.key("Domains", &[account], &[]);
        let sam = b.key("SAM", &[domains], &[]);
        let root = b.key("ROOT", &[sam], &[]);
        let bytes = b.finish(root);
        let hive = Hive::parse(&bytes).unwrap();
        let accounts = sam_accounts(&hive, 100).unwrap();
        assert_eq!(
            accounts,
            [
                SamAccount {
                    rid: 500,
                    name: "Administrator".into(),
                    nt_hash: true,
                    lm_hash: false,
                    disabled: Some(true)
                },
                SamAccount {
                    rid: 1001,
                    name: "alice".into(),
                    nt_hash: true,
                    lm_hash: true,
                    disabled: Some(false)
                },
                SamAccount {
                    rid: 501,
                    name: "Guest".into(),
                    nt_hash: false,
                    lm_hash: false,
                    disabled: None
                },
            ]
        );
    }

    #[test]
    fn recycle_bin_info_files() {
        let mut v2 = 2u64.to_le_bytes().to_vec();
        v2.extend_from_slice(&1234u64.to_le_bytes());
        v2.extend_from_slice(&0u64.to_le_bytes());
        let path = "C:\\Users\\alice\\secret.txt\0";
        v2.extend_from_slice(&(path.encode_utf16().count() as u32).to_le_bytes());
        v2.extend(path.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(
            recycled(&v2),
            Some(Recycled {
                size: 1234,
                path: "C:\\Users\\alice\\secret.txt".into()
            })
        );
        let mut hostile = v2.clone();
        hostile[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(recycled(&hostile).unwrap().size, 1234);
        assert_eq!(recycled(&[1, 0, 0]), None);
        assert_eq!(recycled(&[9; 40]), None);
    }
}
