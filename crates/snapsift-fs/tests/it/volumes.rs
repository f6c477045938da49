//! Partition tables made by `sgdisk` and `sfdisk`, read as `sfdisk --json` (numbers, starts,
//! sizes) and The Sleuth Kit's `mmls` (ranges) read them.

use std::path::Path;

use snapsift_disk::MemoryDisk;
use snapsift_fs::{Content, Scheme, VolumeMap};
use snapsift_testkit::{run, run_stdout, run_with_input, workdir};

const MIB: u64 = 1 << 20;

fn read(path: &Path) -> VolumeMap {
    let disk = snapsift_disk::open(path).unwrap();
    VolumeMap::read(&*disk).unwrap()
}

/// (number, start, size) in sectors of every partition `sfdisk --json` lists, extended
/// containers left out.
fn sfdisk_partitions(path: &Path) -> Vec<(u32, u64, u64)> {
    let json: serde_json::Value =
        serde_json::from_str(&run_stdout("sfdisk", &["--json", path.to_str().unwrap()])).unwrap();
    let name = path.to_str().unwrap();
    json["partitiontable"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !matches!(p["type"].as_str(), Some("5" | "f" | "85")))
        .map(|p| {
            let node = p["node"].as_str().unwrap();
            let number = node.strip_prefix(name).unwrap().parse().unwrap();
            (
                number,
                p["start"].as_u64().unwrap(),
                p["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// (start, length) in sectors of every partition `mmls` lists.
fn mmls_partitions(path: &Path) -> Vec<(u64, u64)> {
    let mut ranges: Vec<(u64, u64)> = run_stdout("mmls", &[path.to_str().unwrap()])
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // "002:  000:000   0000002048   0000010239   0000008192   Linux (0x83)" (MBR) or
            // "004:  000       0000002048   0000034815   0000032768   root" (GPT); "Meta" and
            // "-------" slots are tables and unallocated space.
            let slot = fields.get(1)?;
            if !slot.starts_with(|c: char| c.is_ascii_digit()) || line.contains("Extended") {
                return None;
            }
            Some((fields.get(2)?.parse().ok()?, fields.get(4)?.parse().ok()?))
        })
        .collect();
    ranges.sort();
    ranges
}

/// Our volumes as (number, start, size) in sectors.
fn ours(map: &VolumeMap) -> Vec<(u32, u64, u64)> {
    map.volumes
        .iter()
        .map(|v| {
            (
                v.number.unwrap(),
                v.range.start / 512,
                (v.range.end - v.range.start) / 512,
            )
        })
        .collect()
}

#[test]
fn gpt_partitions_and_their_content() {
    let dir = workdir();
    let disk = dir.path().join("gpt.img");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(64 * MIB)
        .unwrap();
    let d = disk.to_str().unwrap();
    run(
        "sgdisk",
        &[
            "-n",
            "1:2048:+16M",
            "-c",
            "1:root",
            "-t",
            "1:8300",
            "-n",
            "2:0:+8M",
            "-t",
            "2:8200",
            "-n",
            "3:0:+4M",
            "-t",
            "3:ef00",
            "-n",
            "5:0:+2M",
            d,
        ],
    );
    run("mkfs.ext4", &["-q", "-F", "-E", "offset=1048576", d, "16M"]);
    let map = read(&disk);
    assert_eq!(map.scheme, Scheme::Gpt);
    let mut expected = sfdisk_partitions(&disk);
    expected.sort();
    let mut found = ours(&map);
    found.sort();
    assert_eq!(found, expected);
    let ranges: Vec<(u64, u64)> = found.iter().map(|&(_, s, n)| (s, n)).collect();
    assert_eq!(ranges, mmls_partitions(&disk));
    let root = map.volume_at(MIB + 5000).unwrap();
    assert_eq!(root.number, Some(1));
    assert_eq!(root.content, Content::Ext);
    assert_eq!(root.name.as_deref(), Some("root"));
    assert_eq!(root.partition_type.as_deref(), Some("Linux filesystem"));
    assert_eq!(map.volume_at(100), None, "before the first partition");
    assert!(map.notes.is_empty(), "{:?}", map.notes);
}

#[test]
fn mbr_with_logical_partitions() {
    let dir = workdir();
    let disk = dir.path().join("mbr.img");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(40 * MIB)
        .unwrap();
    let layout = "label: dos\nstart=2048, size=8192, type=83\nstart=10240, size=8192, type=82\n\
                  start=18432, size=40000, type=5\nstart=20480, size=4096, type=83\n\
                  start=26624, size=4096, type=83\nstart=32768, size=8192, type=7\n";
    run_with_input("sfdisk", &["-q", disk.to_str().unwrap()], layout);
    let map = read(&disk);
    assert_eq!(map.scheme, Scheme::Mbr);
    assert_eq!(ours(&map), sfdisk_partitions(&disk));
    let ranges: Vec<(u64, u64)> = ours(&map).iter().map(|&(_, s, n)| (s, n)).collect();
    assert_eq!(ranges, mmls_partitions(&disk));
    assert_eq!(map.volume_at(27000 * 512).unwrap().number, Some(6));
    assert_eq!(
        map.volume_at(27000 * 512)
            .unwrap()
            .partition_type
            .as_deref(),
        Some("0x83")
    );
}

#[test]
fn a_filesystem_without_a_partition_table() {
    let dir = workdir();
    let disk = dir.path().join("ext4.img");
    run("mkfs.ext4", &["-q", "-F", disk.to_str().unwrap(), "8M"]);
    let map = read(&disk);
    assert_eq!(map.scheme, Scheme::Whole);
    assert_eq!(map.volumes.len(), 1);
    assert_eq!(map.volumes[0].content, Content::Ext);
    assert_eq!(map.volumes[0].number, None);
}

#[test]
fn unknown_content_is_one_unknown_volume() {
    let bytes: Vec<u8> = (0..4 * MIB as usize)
        .map(|i| (i * 7 + i / 3) as u8)
        .collect();
    let map = VolumeMap::read(&MemoryDisk::new(bytes)).unwrap();
    assert_eq!(map.scheme, Scheme::Unknown);
    assert_eq!(map.volumes.len(), 1);
    assert_eq!(map.volumes[0].content, Content::Unknown);
}

#[test]
fn a_damaged_primary_gpt_falls_back_to_the_backup() {
    let dir = workdir();
    let disk = dir.path().join("gpt.img");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(32 * MIB)
        .unwrap();
    run(
        "sgdisk",
        &["-n", "1:2048:+8M", "-n", "2:0:+8M", disk.to_str().unwrap()],
    );
    let intact = ours(&read(&disk));
    let mut bytes = std::fs::read(&disk).unwrap();
    bytes[512 + 40] ^= 0xff; // Inside the primary header: its CRC no longer matches.
    let map = VolumeMap::read(&MemoryDisk::new(bytes)).unwrap();
    assert_eq!(map.scheme, Scheme::Gpt);
    assert_eq!(ours(&map), intact);
    assert!(
        map.notes.iter().any(|n| n.contains("backup GPT was used")),
        "{:?}",
        map.notes
    );
}

#[test]
fn hostile_mbr_tables_are_cut_and_noted() {
    let dir = workdir();
    let disk = dir.path().join("mbr.img");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(16 * MIB)
        .unwrap();
    let layout = "label: dos\nstart=2048, size=8192, type=83\nstart=10240, size=20000, type=5\n\
                  start=12288, size=2048, type=83\n";
    run_with_input("sfdisk", &["-q", disk.to_str().unwrap()], layout);
    let mut bytes = std::fs::read(&disk).unwrap();
    // The first EBR (at sector 10240) gets a link back to itself: a loop.
    let ebr = 10240 * 512;
    bytes[ebr + 446 + 16 + 4] = 0x05;
    bytes[ebr + 446 + 16 + 8..ebr + 446 + 16 + 12].copy_from_slice(&0u32.to_le_bytes());
    bytes[ebr + 446 + 16 + 12..ebr + 446 + 16 + 16].copy_from_slice(&2048u32.to_le_bytes());
    // And the disk is cut short of the first partition's end.
    bytes.truncate(13 * MIB as usize / 2);
    let map = VolumeMap::read(&MemoryDisk::new(bytes)).unwrap();
    assert!(
        map.notes.iter().any(|n| n.contains("loops")),
        "{:?}",
        map.notes
    );
    assert!(
        map.notes.iter().any(|n| n.contains("past the end")),
        "{:?}",
        map.notes
    );
    assert!(map.volumes.iter().all(|v| v.range.end <= 13 * MIB / 2));
}

/// Sets GPT entry `index`'s first and last LBA in the primary table of `bytes` (512-byte
/// sectors, entries at LBA 2) and makes both CRCs match again, as a tool that wrote the
/// table on purpose would.
fn patch_gpt_entry(bytes: &mut [u8], index: usize, first: u64, last: u64) {
    let entry = 1024 + 128 * index;
    bytes[entry + 32..entry + 40].copy_from_slice(&first.to_le_bytes());
    bytes[entry + 40..entry + 48].copy_from_slice(&last.to_le_bytes());
    let header = 512;
    let count = u32::from_le_bytes(bytes[header + 80..header + 84].try_into().unwrap()) as usize;
    let entries_crc = crc32fast::hash(&bytes[1024..1024 + 128 * count]);
    bytes[header + 88..header + 92].copy_from_slice(&entries_crc.to_le_bytes());
    bytes[header + 16..header + 20].fill(0);
    let header_crc = crc32fast::hash(&bytes[header..header + 92]);
    bytes[header + 16..header + 20].copy_from_slice(&header_crc.to_le_bytes());
}

#[test]
fn a_gpt_with_overlapping_and_out_of_disk_partitions_is_noted_and_cut() {
    let dir = workdir();
    let disk = dir.path().join("gpt.img");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(16 * MIB)
        .unwrap();
    run(
        "sgdisk",
        &[
            "-n",
            "1:2048:+4M",
            "-n",
            "2:0:+2M",
            "-n",
            "3:0:+2M",
            "-n",
            "4:0:+2M",
            disk.to_str().unwrap(),
        ],
    );
    let mut bytes = std::fs::read(&disk).unwrap();
    // Partition 2 starts inside partition 1; partition 3 runs to 1 PiB on a 16 MiB disk;
    // partition 4 lies wholly past the end, from 2^63 bytes on.
    patch_gpt_entry(&mut bytes, 1, 4096, 4096 + 4095);
    patch_gpt_entry(&mut bytes, 2, 20480, (1 << 50) / 512);
    patch_gpt_entry(&mut bytes, 3, 1 << 54, u64::MAX);
    let size = bytes.len() as u64;
    let map = VolumeMap::read(&MemoryDisk::new(bytes)).unwrap();
    assert_eq!(map.scheme, Scheme::Gpt, "{:?}", map.notes);
    let ranges: Vec<_> = map
        .volumes
        .iter()
        .map(|v| (v.number.unwrap(), v.range.clone()))
        .collect();
    assert_eq!(
        ranges,
        vec![
            (1, MIB..5 * MIB),
            (2, 2 * MIB..4 * MIB),
            (3, 10 * MIB..size),
        ]
    );
    for expected in [
        "partitions 1 and 2 overlap",
        "partition 3 reaches past the end",
    ] {
        assert!(
            map.notes.iter().any(|n| n.contains(expected)),
            "{expected}: {:?}",
            map.notes
        );
    }
    assert!(
        map.notes.iter().any(|n| n.contains("partition 4")),
        "partition 4 is dropped, and said so: {:?}",
        map.notes
    );
    assert_eq!(map.volume_at(3 * MIB).unwrap().number, Some(1));
}
