//! What the engine refuses, as errors of its one error type.

use snapsift_disk::{Opener, ReferencePolicy};
use snapsift_engine::EngineError;
use snapsift_engine::scan::scan_image;
use snapsift_engine::shard::Shard;

use crate::common::*;

#[test]
fn a_compressed_stream_is_not_cut_into_shards() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("disk.img");
    std::fs::write(&raw, vec![0u8; 1 << 20]).unwrap();
    run("zstd", &["-q", raw.to_str().unwrap()]);
    let mut opener = Opener::new(ReferencePolicy::image_directory());
    let image = opener.open_image(&dir.path().join("disk.img.zst")).unwrap();
    let mut options = options();
    options.shard = Some(Shard::new(0, 2).unwrap());
    let error = scan_image(
        "disk.img.zst",
        image,
        matcher(),
        &options,
        &Heard::default(),
    )
    .unwrap_err();
    assert!(
        matches!(error, EngineError::StreamNotShardable { .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("disk.img.zst: a compressed stream")
    );
}

#[test]
fn shards_are_below_their_count() {
    assert!(matches!(
        Shard::new(3, 3),
        Err(EngineError::NoSuchShard { index: 3, count: 3 })
    ));
    assert!(matches!(
        Shard::new(0, 2_000_000),
        Err(EngineError::TooManyShards { .. })
    ));
}
