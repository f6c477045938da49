//! The shards of an image together report exactly what the whole scan reports.

use std::collections::BTreeSet;

use snapsift_engine::shard::Shard;

use crate::common::*;

#[test]
fn shards_report_each_finding_of_the_whole_scan_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Secrets::new(1906);
    // Files spread over a disk bigger than the margins, so that each shard owns some.
    let files: Vec<(String, Vec<u8>)> = (0..12)
        .map(|i| {
            let mut bytes = s.filler(300_000);
            bytes.extend(format!("\naws_access_key_id = {}\n", s.aws_key_id()).into_bytes());
            (format!("f{i}.txt"), bytes)
        })
        .collect();
    let files: Vec<(&str, Vec<u8>)> = files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let image = ext4_with_files(dir.path(), 16, &files);
    let key = |r: &snapsift_engine::record::FindingRecord| {
        (
            r.rule.clone(),
            r.secret.clone(),
            r.offset,
            r.fingerprint.clone(),
        )
    };
    let whole: BTreeSet<_> = scan(image.clone(), &options())
        .records
        .iter()
        .map(key)
        .collect();
    assert_eq!(whole.len(), 12);
    let count = 3;
    let mut together = Vec::new();
    for index in 0..count {
        let mut options = options();
        options.shard = Some(Shard::new(index, count).unwrap());
        let part = scan(image.clone(), &options);
        let coverage = &part.sweep.as_ref().unwrap().coverage;
        assert_eq!(coverage.shard.as_ref().map(|s| s.index), Some(index));
        together.extend(part.records.iter().map(key));
    }
    let joined: BTreeSet<_> = together.iter().cloned().collect();
    assert_eq!(
        together.len(),
        joined.len(),
        "a finding reported by two shards"
    );
    assert_eq!(joined, whole);
}
