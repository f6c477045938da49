//! One occurrence, one finding: across a chunk boundary, between the file pass and the
//! sweep, and between rules that match the same bytes.

use snapsift_engine::LayerKind;

use crate::common::*;

#[test]
fn a_secret_across_a_chunk_boundary_is_one_finding_at_its_offset() {
    let mut s = Secrets::new(1903);
    let id = s.aws_key_id();
    let line = format!("aws_access_key_id = {id}\n");
    let mut disk = vec![0u8; 1 << 20];
    // The ID's middle on a chunk edge, at several chunk sizes.
    for chunk in [4096u64, 65_536] {
        disk.fill(0);
        let edge = 4 * chunk as usize;
        let at = edge - line.find(&id).unwrap() - id.len() / 2;
        disk[at..at + line.len()].copy_from_slice(line.as_bytes());
        let mut options = options();
        options.chunk_size = chunk;
        let scan = scan(disk.clone(), &options);
        assert_eq!(scan.records.len(), 1, "chunk {chunk}: {:#?}", scan.records);
        let record = only(&scan.records, &id);
        assert_eq!(record.offset, (at + line.find(&id).unwrap()) as u64);
    }
}

#[test]
fn a_tar_member_seen_by_the_file_pass_and_the_sweep_is_one_finding_named_by_its_member() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Secrets::new(1904);
    let id = s.aws_key_id();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("etc")).unwrap();
    std::fs::write(
        tree.join("etc/credentials"),
        format!("[default]\naws_access_key_id = {id}\n"),
    )
    .unwrap();
    let tar = dir.path().join("backup.tar");
    run(
        "tar",
        &[
            "-C",
            tree.to_str().unwrap(),
            "-cf",
            tar.to_str().unwrap(),
            "etc",
        ],
    );
    let image = ext4_with_files(
        dir.path(),
        4,
        &[("backup.tar", std::fs::read(&tar).unwrap())],
    );
    // A tar stores its members as they are: the sweep sees the key too, there.
    let on_disk = offsets_of(&image, id.as_bytes());
    assert_eq!(on_disk.len(), 1);
    let scan = scan(image, &options());
    assert_eq!(scan.records.len(), 1, "{:#?}", scan.records);
    let record = only(&scan.records, &id);
    let location = record.location.as_ref().unwrap();
    assert_eq!(location.container.len(), 1, "{location:?}");
    assert_eq!(location.container[0].kind, LayerKind::Tar);
    assert_eq!(
        record.display_path().as_deref(),
        Some("/backup.tar!/etc/credentials")
    );
    assert_eq!(record.offset, on_disk[0] as u64);
}

#[test]
fn bytes_two_rules_match_are_one_finding_of_the_more_specific_rule() {
    // A GitHub token (valid checksum) assigned to a password variable.
    let token = "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";
    let line = format!("DEPLOY_PASSWORD={token}\n");
    let mut disk = vec![0u8; 1 << 20];
    disk[4096..4096 + line.len()].copy_from_slice(line.as_bytes());
    let scan = scan(disk, &options());
    assert_eq!(scan.records.len(), 1, "{:#?}", scan.records);
    assert_eq!(only(&scan.records, token).rule, "github.token");
}
