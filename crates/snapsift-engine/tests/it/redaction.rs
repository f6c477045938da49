//! With `redact`, no record and no baseline entry holds a secret in full, wherever the
//! image put it: the secret fields, the context, a paired half, a file's name.

use crate::common::*;

#[test]
fn redacted_records_and_baseline_entries_hold_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Secrets::new(1905);
    let (id, secret) = (s.alibaba_key_id(), s.alnum(30));
    let token = "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";
    let aws = s.aws_key_id();
    let files = [
        (
            "app.env",
            format!("ALIBABA_CLOUD_ACCESS_KEY_ID={id}\nALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}\n")
                .into_bytes(),
        ),
        // A token in the file's name, and a key in the file.
        (
            &format!("{token}.txt"),
            format!("aws_access_key_id = {aws}\n").into_bytes(),
        ),
    ];
    let files: Vec<(&str, Vec<u8>)> = files.iter().map(|(n, b)| (*n, b.clone())).collect();
    let image = ext4_with_files(dir.path(), 4, &files);
    let mut options = options();
    options.redact = true;
    options.baseline_entries = true;
    let scan = scan(image, &options);
    // In disk order: the token where the sweep sees it (the directory's block), the pair,
    // the key.
    let rules: Vec<&str> = scan.records.iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(
        rules,
        ["github.token", "alibaba.access-key-id", "aws.access-key-id"],
        "{:#?}",
        scan.records
    );
    assert!(
        scan.records
            .iter()
            .all(|r| r.redacted && r.secret_hex.is_none())
    );
    let json = serde_json::to_string(&scan.records).unwrap();
    let entries = format!("{:?}", scan.baseline);
    assert_eq!(scan.baseline.len(), 3);
    for full in [&id, &secret, token, &aws] {
        // The part a mask never shows: all but the first four and last two characters.
        let hidden = &full[4..full.len() - 2];
        assert!(!json.contains(hidden), "{full} in {json}");
        assert!(!entries.contains(hidden), "{full} in {entries}");
    }
    let paired = scan.records.iter().find(|r| r.pair.is_some()).unwrap();
    assert_eq!(
        paired.secret,
        format!("{}************{}", &id[..4], &id[22..])
    );
    let named = scan
        .records
        .iter()
        .find(|r| r.rule == "aws.access-key-id")
        .unwrap();
    assert_eq!(
        named.display_path().as_deref(),
        Some("/ghp_************xW.txt")
    );
}
