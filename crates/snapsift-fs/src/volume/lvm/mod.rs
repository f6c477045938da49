//! LVM2: physical volumes found among a disk's volumes, the volume groups their metadata
//! describes, and the logical volumes mapped onto the disk as volumes of their own.
//!
//! Each PV (a partition or the whole disk with an LVM2 label) names its metadata areas; each
//! area holds the group's metadata text in a ring buffer. Every copy whose checksums match is
//! read, and for each group the copy with the highest sequence number is used, as LVM does.
//! Linear and striped logical volumes whose extents all lie on PVs of this disk are mapped
//! ([`Extents`]); thin pools and thin volumes, snapshots, RAID, mirrors and any other kind
//! are noted as not mapped, as are volumes on a PV of another disk: their bytes are swept
//! raw, as part of their PV.
//!
//! Nothing here fails the volume map: whatever cannot be read or trusted becomes a note.

mod label;
mod metadata;
mod text;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use snapsift_disk::Disk;

use super::extents::{Extents, LogicalDisk, Segment};
use super::{Content, LogicalVolume, Problem, Volume, content, probe};
use metadata::VolumeGroup;

/// Metadata texts longer than this are not read (LVM's default metadata area is 1 MiB).
const MAX_TEXT: u64 = 16 << 20;
/// At most this many bytes of metadata text are read from one disk in all: hostile tables
/// can make thousands of PVs point at the same large text.
const MAX_TOTAL_TEXT: u64 = 64 << 20;
/// At most this many visible logical volumes are considered per disk.
const MAX_LOGICAL: usize = 4096;
/// Stripe chunks smaller than LVM's smallest (4 KiB) are refused.
const MIN_STRIPE_SIZE: u64 = 4096;

/// A PV found on the disk.
struct FoundPv {
    /// Its bytes on the disk.
    range: Range<u64>,
    /// How notes name it: `partition 2` or `the disk`.
    name: String,
    uuid: String,
}

/// The logical volumes of the volume groups whose PVs are among `volumes`, mapped, with
/// what could not be read or mapped added to `notes`.
pub(crate) fn logical_volumes(
    disk: &dyn Disk,
    volumes: &[Volume],
    notes: &mut Vec<String>,
) -> Vec<Volume> {
    let mut pvs: Vec<FoundPv> = Vec::new();
    let mut uuids: HashSet<String> = HashSet::new();
    // The newest copy of each group's metadata, by the group's id.
    let mut newest: HashMap<String, VolumeGroup> = HashMap::new();
    let mut budget = MAX_TOTAL_TEXT;
    for volume in volumes {
        if volume.content != Content::Lvm || volume.logical.is_some() {
            continue;
        }
        let name = match volume.number {
            Some(n) => format!("partition {n}"),
            None => "the disk".to_owned(),
        };
        match read_pv(disk, &volume.range, &mut budget, &mut newest) {
            Ok((uuid, problems)) => {
                for Problem(problem) in problems {
                    notes.push(format!("{name} (LVM2 PV): {problem}"));
                }
                if !uuids.insert(uuid.clone()) {
                    notes.push(format!(
                        "{name} (LVM2 PV) has the UUID of another PV on this disk; it is not \
                         used"
                    ));
                    continue;
                }
                pvs.push(FoundPv {
                    range: volume.range.clone(),
                    name,
                    uuid,
                });
            }
            Err(Problem(problem)) => notes.push(format!("{name} (LVM2 PV): {problem}")),
        }
    }
    let mut groups: Vec<VolumeGroup> = newest.into_values().collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let by_uuid: HashMap<&str, &FoundPv> = pvs.iter().map(|pv| (pv.uuid.as_str(), pv)).collect();
    let mut mapped = Mapped::default();
    let mut out = Vec::new();
    let mut considered = 0usize;
    for group in &groups {
        // A snapshot is a hidden volume of type `snapshot` naming its origin and its
        // copy-on-write store, a volume holding no filesystem: noted under the store's name.
        let group_pvs: HashMap<&str, &metadata::PhysicalVolume> =
            group.pvs.iter().map(|pv| (pv.key.as_str(), pv)).collect();
        let cow_stores: HashSet<&str> = group
            .lvs
            .iter()
            .flat_map(|lv| &lv.segments)
            .filter_map(|s| s.cow_store.as_deref())
            .collect();
        for lv in &group.lvs {
            let snapshot = lv.segments.iter().find(|s| s.kind == "snapshot");
            if !lv.visible && snapshot.is_none() {
                continue;
            }
            considered = considered.saturating_add(1);
            if considered > MAX_LOGICAL {
                notes.push(format!(
                    "more than {MAX_LOGICAL} logical volumes: the rest are not mapped (their \
                     bytes are swept raw)"
                ));
                return out;
            }
            let found = match snapshot {
                Some(segment) => {
                    let store = segment.cow_store.as_deref().unwrap_or(&lv.name);
                    let origin = segment.origin.as_deref().unwrap_or("an unnamed volume");
                    notes.push(format!(
                        "logical volume {}/{store} is not mapped (a snapshot of {}/{origin}): \
                         its bytes are swept raw",
                        group.name, group.name
                    ));
                    continue;
                }
                None if cow_stores.contains(lv.name.as_str()) => continue,
                None => map_lv(group, &group_pvs, lv, &by_uuid, &mut mapped),
            };
            let full_name = format!("{}/{}", group.name, lv.name);
            match found {
                Ok(extents) => out.push(Volume {
                    logical: Some(Arc::new(LogicalVolume {
                        name: full_name,
                        extents,
                    })),
                    ..Volume::default()
                }),
                Err(Problem(problem)) => notes.push(format!(
                    "logical volume {full_name} is not mapped ({problem}): its bytes are swept \
                     raw"
                )),
            }
        }
    }
    for volume in &mut out {
        let Some(logical) = volume.logical.clone() else {
            continue;
        };
        volume.range = logical.extents.hull();
        let lv_disk = LogicalDisk::new(disk, &logical.extents);
        match probe(&lv_disk, 0) {
            Ok(bytes) => {
                volume.content = content::detect(&bytes);
                volume.uuid = content::uuid(&bytes, volume.content);
            }
            Err(error) => notes.push(format!(
                "the start of logical volume {} cannot be read ({error})",
                logical.name
            )),
        }
    }
    out
}

/// Reads the PV at `range`: its UUID, and the volume groups of its metadata areas (kept in
/// `newest` where they are the newest copy of their group), with the problems of areas that
/// could not be read. The texts read are counted against `budget`.
fn read_pv(
    disk: &dyn Disk,
    range: &Range<u64>,
    budget: &mut u64,
    newest: &mut HashMap<String, VolumeGroup>,
) -> Result<(String, Vec<Problem>), Problem> {
    let pv_len = range.end.saturating_sub(range.start);
    let head_len = (label::SECTOR as u64)
        .saturating_mul(label::LABEL_SECTORS)
        .min(pv_len);
    let head = read(disk, range.start, head_len)?;
    let pv = label::parse_label(&head)?;
    let mut problems = Vec::new();
    for area in &pv.metadata_areas {
        let found = read_area(disk, range, area, budget).and_then(|text| {
            let Some(text) = text else { return Ok(()) };
            let top = text::parse(&text)?;
            let group = metadata::volume_group(&top)?;
            match newest.get(&group.id) {
                Some(known) if known.seqno >= group.seqno => {}
                _ => {
                    newest.insert(group.id.clone(), group);
                }
            }
            Ok(())
        });
        if let Err(Problem(problem)) = found {
            problems.push(Problem(format!(
                "the metadata area at byte {}: {problem}",
                area.start
            )));
        }
    }
    Ok((pv.uuid, problems))
}

/// The committed metadata text of the metadata area `area` (bytes of the PV at `pv`),
/// checksum checked, its length taken from `budget`; `None` if the area holds none.
fn read_area(
    disk: &dyn Disk,
    pv: &Range<u64>,
    area: &Range<u64>,
    budget: &mut u64,
) -> Result<Option<Vec<u8>>, Problem> {
    let pv_len = pv.end.saturating_sub(pv.start);
    if area.end > pv_len {
        return Err(Problem("it lies past the end of its PV".into()));
    }
    let header = read(
        disk,
        pv.start.saturating_add(area.start),
        label::MDA_HEADER_SIZE,
    )?;
    let Some(location) = label::parse_mda_header(&header, area)? else {
        return Ok(None);
    };
    let total: u64 = location
        .parts
        .iter()
        .map(|p| p.end.saturating_sub(p.start))
        .sum();
    if total > MAX_TEXT {
        return Err(Problem(format!(
            "its metadata text of {total} bytes is larger than the {MAX_TEXT} bytes read"
        )));
    }
    *budget = budget.checked_sub(total).ok_or_else(|| {
        Problem(format!(
            "not read: the disk's metadata texts exceed the {MAX_TOTAL_TEXT} bytes read"
        ))
    })?;
    let mut parts = Vec::new();
    for part in &location.parts {
        parts.push(read(
            disk,
            pv.start.saturating_add(part.start),
            part.end.saturating_sub(part.start),
        )?);
    }
    let slices: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    if !label::text_matches(&slices, location.checksum) {
        return Err(Problem(
            "its metadata text's checksum does not match".into(),
        ));
    }
    Ok(Some(parts.concat()))
}

/// `len` bytes of the disk at `at`, a read error as a problem.
fn read(disk: &dyn Disk, at: u64, len: u64) -> Result<Vec<u8>, Problem> {
    let len = usize::try_from(len).map_err(|_| Problem("an area is too large".into()))?;
    let mut buf = vec![0u8; len];
    disk.read_exact_at(at, &mut buf)
        .map_err(|error| Problem(format!("it cannot be read ({error})")))?;
    Ok(buf)
}

/// The disk ranges of the logical volumes mapped so far, to refuse one whose extents
/// overlap another's (LVM never allocates an extent twice).
#[derive(Default)]
struct Mapped {
    /// start → end.
    ranges: BTreeMap<u64, u64>,
}

impl Mapped {
    fn overlaps(&self, range: &Range<u64>) -> bool {
        self.ranges
            .range(..range.end)
            .next_back()
            .is_some_and(|(_, &end)| end > range.start)
    }
}

/// The extents of logical volume `lv` of `group`, if it is one snapsift maps (linear or
/// striped, on PVs of this disk), recorded in `mapped`.
fn map_lv(
    group: &VolumeGroup,
    group_pvs: &HashMap<&str, &metadata::PhysicalVolume>,
    lv: &metadata::LogicalVolume,
    pvs: &HashMap<&str, &FoundPv>,
    mapped: &mut Mapped,
) -> Result<Extents, Problem> {
    let mut kinds: Vec<&str> = lv
        .segments
        .iter()
        .map(|s| s.kind.as_str())
        .filter(|&k| k != "striped")
        .collect();
    kinds.dedup();
    if !kinds.is_empty() {
        return Err(Problem(format!("type {}", kinds.join(", "))));
    }
    if lv.segments.is_empty() {
        return Err(Problem("it has no segments".into()));
    }
    let extent = group.extent_size;
    let mut segments = Vec::new();
    for segment in &lv.segments {
        let bytes = |extents: u64| {
            extents
                .checked_mul(extent)
                .ok_or_else(|| Problem("its size overflows".into()))
        };
        let stripes = segment.stripes.len() as u64;
        if stripes == 0 || segment.extent_count.checked_rem(stripes) != Some(0) {
            return Err(Problem(format!(
                "a segment of {} extents cannot be dealt over {stripes} stripes",
                segment.extent_count
            )));
        }
        if stripes > 1
            && (!segment.stripe_size.is_power_of_two() || segment.stripe_size < MIN_STRIPE_SIZE)
        {
            return Err(Problem(format!(
                "a stripe size of {} bytes",
                segment.stripe_size
            )));
        }
        let area_extents = segment.extent_count.checked_div(stripes).unwrap_or(0);
        let area_len = bytes(area_extents)?;
        let mut starts = Vec::new();
        for (key, first) in &segment.stripes {
            let pv_meta = group_pvs
                .get(key.as_str())
                .ok_or_else(|| Problem(format!("its PV {key} is not in the group")))?;
            let pv = pvs
                .get(pv_meta.uuid.as_str())
                .ok_or_else(|| Problem(format!("its PV {key} is not on this disk")))?;
            if first
                .checked_add(area_extents)
                .is_none_or(|end| end > pv_meta.pe_count)
            {
                return Err(Problem(format!(
                    "its extents reach past the last of PV {key}"
                )));
            }
            let at = pv
                .range
                .start
                .checked_add(pv_meta.pe_start)
                .and_then(|at| at.checked_add(first.checked_mul(extent)?))
                .filter(|at| {
                    at.checked_add(area_len)
                        .is_some_and(|end| end <= pv.range.end)
                })
                .ok_or_else(|| Problem(format!("its extents reach past the end of {}", pv.name)))?;
            starts.push(at);
        }
        segments.push(Segment {
            start: bytes(segment.start_extent)?,
            len: bytes(segment.extent_count)?,
            stripe_size: segment.stripe_size,
            stripes: starts,
        });
    }
    let extents = Extents::new(segments).map_err(Problem)?;
    let ranges: Vec<Range<u64>> = extents.disk_ranges().collect();
    if ranges.iter().any(|r| mapped.overlaps(r)) {
        return Err(Problem(
            "its extents overlap those of another logical volume".into(),
        ));
    }
    for range in ranges {
        mapped.ranges.insert(range.start, range.end);
    }
    Ok(extents)
}

#[cfg(test)]
mod tests {
    use snapsift_disk::MemoryDisk;

    use super::*;

    /// A PV of `size` bytes whose metadata area (4096 to 1 MiB) holds `text`, checksums
    /// sealed as LVM writes them.
    fn pv(text: &[u8], size: usize) -> Vec<u8> {
        let mut d = vec![0u8; size];
        let area = (4096u64, (1u64 << 20) - 4096);
        let mda = &mut d[4096..];
        mda[4..20].copy_from_slice(b" LVM2 x[5A%r0N*>");
        mda[20..24].copy_from_slice(&1u32.to_le_bytes());
        mda[24..32].copy_from_slice(&area.0.to_le_bytes());
        mda[32..40].copy_from_slice(&area.1.to_le_bytes());
        mda[40..48].copy_from_slice(&512u64.to_le_bytes());
        mda[48..56].copy_from_slice(&(text.len() as u64).to_le_bytes());
        mda[56..60].copy_from_slice(&label::crc(0xf597_a6cf, text).to_le_bytes());
        let sum = label::crc(0xf597_a6cf, &mda[4..512]);
        mda[..4].copy_from_slice(&sum.to_le_bytes());
        mda[512..512 + text.len()].copy_from_slice(text);
        let s = &mut d[512..1024];
        s[..8].copy_from_slice(b"LABELONE");
        s[8..16].copy_from_slice(&1u64.to_le_bytes());
        s[20..24].copy_from_slice(&32u32.to_le_bytes());
        s[24..32].copy_from_slice(b"LVM2 001");
        s[32..64].copy_from_slice(b"kzX0sf6XYBIjAeN2PT0xXm0cgFKnB39k");
        s[72..80].copy_from_slice(&(1u64 << 20).to_le_bytes());
        s[104..112].copy_from_slice(&area.0.to_le_bytes());
        s[112..120].copy_from_slice(&area.1.to_le_bytes());
        let sum = label::crc(0xf597_a6cf, &s[20..]);
        s[16..20].copy_from_slice(&sum.to_le_bytes());
        d
    }

    const GROUP: &str = "vg {\nid = \"abc\"\nseqno = 1\nextent_size = 2048\n\
        physical_volumes {\npv0 {\nid = \"kzX0sf-6XYB-IjAe-N2PT-0xXm-0cgF-KnB39k\"\n\
        pe_start = 2048\npe_count = 2\n}\n}\nlogical_volumes {\nlv {\n\
        status = [\"VISIBLE\"]\nsegment1 {\nstart_extent = 0\nextent_count = 2\n\
        type = \"striped\"\nstripe_count = 1\nstripes = [\"pv0\", 0]\n}\n}\n}\n}\n";

    fn whole(size: u64) -> Volume {
        Volume {
            range: 0..size,
            content: Content::Lvm,
            ..Volume::default()
        }
    }

    #[test]
    fn a_group_on_a_hand_built_pv() {
        let disk = MemoryDisk::new(pv(GROUP.as_bytes(), 3 << 20));
        let mut notes = Vec::new();
        let found = logical_volumes(&disk, &[whole(3 << 20)], &mut notes);
        assert!(notes.is_empty(), "{notes:?}");
        let lv = found[0].logical.as_ref().unwrap();
        assert_eq!(lv.name, "vg/lv");
        assert_eq!(lv.extents.hull(), (1 << 20)..(3 << 20));
    }

    #[test]
    fn many_pvs_naming_one_large_text_stop_at_the_budget() {
        // 1000 KiB of text (a comment pads it), which 100 volumes all point at: 98 MiB to read.
        let mut text = GROUP.as_bytes().to_vec();
        text.extend_from_slice(b"# ");
        text.resize(text.len() + (1000 << 10), b'x');
        let size = 3 << 20;
        let disk = MemoryDisk::new(pv(&text, size));
        let volumes: Vec<Volume> = (0..100).map(|_| whole(size as u64)).collect();
        let mut notes = Vec::new();
        let found = logical_volumes(&disk, &volumes, &mut notes);
        assert_eq!(found.len(), 1, "the group is still mapped once");
        let over = notes.iter().filter(|n| n.contains("exceed")).count();
        let read = (MAX_TOTAL_TEXT / text.len() as u64) as usize;
        assert!(read < 100);
        assert_eq!(over, 100 - read, "{notes:?}");
    }
}
