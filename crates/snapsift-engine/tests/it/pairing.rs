//! An ID pairs with its secret half only inside one byte stream that belongs together.

use crate::common::*;

/// `filler` bytes of text, then `line`: a file whose last line is `line`.
fn ending_with(secrets: &mut Secrets, filler: usize, line: &str) -> Vec<u8> {
    let mut bytes = secrets.filler(filler);
    bytes.push(b'\n');
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    bytes
}

/// `line`, then `filler` bytes of text: a file whose first line is `line`.
fn starting_with(secrets: &mut Secrets, line: &str, filler: usize) -> Vec<u8> {
    let mut bytes = format!("{line}\n").into_bytes();
    bytes.extend(secrets.filler(filler));
    bytes.push(b'\n');
    bytes
}

#[test]
fn an_id_pairs_with_the_secret_of_its_own_file_not_with_the_next_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Secrets::new(1901);
    let (own_id, own_secret) = (s.alibaba_key_id(), s.alnum(30));
    let (lone_id, next_secret) = (s.alibaba_key_id(), s.alnum(30));
    let own = format!(
        "ALIBABA_CLOUD_ACCESS_KEY_ID={own_id}\nALIBABA_CLOUD_ACCESS_KEY_SECRET={own_secret}\n"
    );
    let files = [
        ("own.env", own.into_bytes()),
        (
            "id.env",
            ending_with(
                &mut s,
                900,
                &format!("ALIBABA_CLOUD_ACCESS_KEY_ID={lone_id}"),
            ),
        ),
        (
            "secret.env",
            starting_with(
                &mut s,
                &format!("ALIBABA_CLOUD_ACCESS_KEY_SECRET={next_secret}"),
                900,
            ),
        ),
    ];
    let image = ext4_with_files(dir.path(), 4, &files);
    // The oracle: the lone ID ends less than the pairing distance before the next file's
    // secret, so only the file boundary keeps them apart.
    let id_end = offsets_of(&image, lone_id.as_bytes())[0] + lone_id.len();
    let secret_at = offsets_of(&image, next_secret.as_bytes())[0];
    assert!(id_end < secret_at && secret_at - id_end < WITHIN);

    let scan = scan(image, &options());
    let paired = only(&scan.records, &own_id);
    assert_eq!(
        paired.pair.as_ref().map(|p| p.secret.as_str()),
        Some(own_secret.as_str())
    );
    assert_eq!(paired.display_path().as_deref(), Some("/own.env"));
    assert!(only(&scan.records, &lone_id).pair.is_none());
    let alone = only(&scan.records, &next_secret);
    assert_eq!(alone.rule, "alibaba.access-key-secret");
    assert_eq!(alone.display_path().as_deref(), Some("/secret.env"));
    assert_eq!(scan.records.len(), 3, "{:#?}", scan.records);
}

#[test]
fn outside_files_an_id_pairs_with_a_secret_of_the_same_run() {
    let mut s = Secrets::new(1902);
    let (id, secret) = (s.alibaba_key_id(), s.alnum(30));
    // No partition table and no filesystem: the disk is one run of bytes.
    let mut disk = vec![0u8; 1 << 20];
    let text = format!(
        "ALIBABA_CLOUD_ACCESS_KEY_ID={id}\n{}\nALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}\n",
        String::from_utf8(s.filler(300)).unwrap()
    );
    disk[70_000..70_000 + text.len()].copy_from_slice(text.as_bytes());
    let scan = scan(disk, &options());
    assert_eq!(scan.records.len(), 1, "{:#?}", scan.records);
    let record = only(&scan.records, &id);
    let pair = record.pair.as_ref().expect("paired");
    assert_eq!(pair.secret, secret);
    assert_eq!(pair.rule, "alibaba.access-key-secret");
    assert_eq!(pair.offset, 70_000 + text.find(&secret).unwrap() as u64);
    assert!(record.location.is_some());
}
