//! A volume group as its metadata text describes it: its physical volumes, its logical
//! volumes and their segments (LVM2's `lib/format_text/import_vsn1.c` reads the same).
//!
//! Only what mapping needs is kept, checked: names in the characters LVM allows (they are
//! shown to the user), numbers in range, sizes converted from 512-byte sectors with checked
//! arithmetic.

use super::super::Problem;
use super::text::{Section, Value};

/// LVM's sector, the unit of sizes in its metadata.
const SECTOR: u64 = 512;
/// More stripes than LVM allows in a segment are refused.
const MAX_STRIPES: usize = 128;
/// Names longer than LVM allows are refused.
const MAX_NAME: usize = 127;

/// A volume group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VolumeGroup {
    /// Its name.
    pub(crate) name: String,
    /// Its UUID, as written (with dashes).
    pub(crate) id: String,
    /// Its sequence number: the metadata with the highest is the current one.
    pub(crate) seqno: u64,
    /// The size of an extent in bytes.
    pub(crate) extent_size: u64,
    /// Its physical volumes.
    pub(crate) pvs: Vec<PhysicalVolume>,
    /// Its logical volumes, visible or not.
    pub(crate) lvs: Vec<LogicalVolume>,
}

/// A physical volume of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PhysicalVolume {
    /// How segments name it (`pv0`).
    pub(crate) key: String,
    /// Its UUID without dashes, as its label gives it.
    pub(crate) uuid: String,
    /// Where its first extent starts, in bytes from the PV's start.
    pub(crate) pe_start: u64,
    /// How many extents it has.
    pub(crate) pe_count: u64,
}

/// A logical volume of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LogicalVolume {
    /// Its name.
    pub(crate) name: String,
    /// Whether it is visible (a volume users see, not a part of another such as a RAID
    /// image, a thin pool's data or a mirror log).
    pub(crate) visible: bool,
    /// Its segments, in the metadata's order.
    pub(crate) segments: Vec<LvSegment>,
}

/// One segment of a logical volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LvSegment {
    /// Its first extent in the logical volume.
    pub(crate) start_extent: u64,
    /// Its extents.
    pub(crate) extent_count: u64,
    /// Its type: `striped` (linear too), `thin-pool`, `thin`, `snapshot`, `raid1`,
    /// `mirror`...
    pub(crate) kind: String,
    /// For a striped segment, the bytes of one stripe chunk.
    pub(crate) stripe_size: u64,
    /// For a striped segment, each stripe's PV (by key) and first extent there.
    pub(crate) stripes: Vec<(String, u64)>,
    /// For a snapshot segment, the logical volume holding its copy-on-write store...
    pub(crate) cow_store: Option<String>,
    /// ...and the volume it is a snapshot of.
    pub(crate) origin: Option<String>,
}

/// Whether `name` is a name LVM would write: letters, digits and `+_.-`, not starting with
/// `-`, at most [`MAX_NAME`] bytes.
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.first() != Some(&b'-')
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'_' | b'.' | b'-'))
}

fn name(raw: &[u8], what: &str) -> Result<String, Problem> {
    if valid_name(raw) {
        Ok(String::from_utf8_lossy(raw).into_owned())
    } else {
        Err(Problem(format!("a {what} name is not one LVM writes")))
    }
}

/// The non-negative integer `key` of `section`.
fn count(section: &Section<'_>, key: &str, what: &str) -> Result<u64, Problem> {
    section
        .int(key)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| Problem(format!("{what} has no valid {key}")))
}

/// `sectors` in bytes.
fn bytes(sectors: u64, what: &str) -> Result<u64, Problem> {
    sectors
        .checked_mul(SECTOR)
        .ok_or_else(|| Problem(format!("{what} is too large")))
}

/// Reads the volume group the metadata text `top` describes (its first section).
pub(crate) fn volume_group(top: &Section<'_>) -> Result<VolumeGroup, Problem> {
    let (raw_name, vg) = top
        .sections()
        .next()
        .ok_or_else(|| Problem("the metadata text holds no volume group".into()))?;
    let vg_name = name(raw_name, "volume group")?;
    let id = vg
        .string("id")
        .filter(|id| id.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(|id| String::from_utf8_lossy(id).into_owned())
        .ok_or_else(|| Problem("the volume group has no valid id".into()))?;
    let seqno = count(vg, "seqno", "the volume group")?;
    let extent_size = bytes(
        count(vg, "extent_size", "the volume group")?,
        "the extent size",
    )?;
    if extent_size == 0 {
        return Err(Problem("the volume group's extent size is 0".into()));
    }
    let mut pvs = Vec::new();
    for (key, pv) in vg
        .section("physical_volumes")
        .map(|s| s.sections().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let what = "a physical volume";
        let uuid: String = pv
            .string("id")
            .ok_or_else(|| Problem(format!("{what} has no id")))?
            .iter()
            .filter(|&&b| b != b'-')
            .map(|&b| char::from(b))
            .collect();
        pvs.push(PhysicalVolume {
            key: name(key, "physical volume")?,
            uuid,
            pe_start: bytes(count(pv, "pe_start", what)?, "a PV's first extent")?,
            pe_count: count(pv, "pe_count", what)?,
        });
    }
    let mut lvs = Vec::new();
    for (raw_lv, lv) in vg
        .section("logical_volumes")
        .map(|s| s.sections().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let lv_name = name(raw_lv, "logical volume")?;
        let mut segments = Vec::new();
        for (_, segment) in lv.sections() {
            segments.push(lv_segment(segment, &lv_name)?);
        }
        lvs.push(LogicalVolume {
            visible: lv.has_flag("status", "VISIBLE"),
            name: lv_name,
            segments,
        });
    }
    Ok(VolumeGroup {
        name: vg_name,
        id,
        seqno,
        extent_size,
        pvs,
        lvs,
    })
}

/// One segment of logical volume `lv`.
fn lv_segment(segment: &Section<'_>, lv: &str) -> Result<LvSegment, Problem> {
    let what = format!("a segment of {lv}");
    let kind = segment
        .string("type")
        .ok_or_else(|| Problem(format!("{what} has no type")))?;
    let kind = name(kind, "segment type")?;
    let mut parsed = LvSegment {
        start_extent: count(segment, "start_extent", &what)?,
        extent_count: count(segment, "extent_count", &what)?,
        kind,
        stripe_size: 0,
        stripes: Vec::new(),
        cow_store: None,
        origin: None,
    };
    match parsed.kind.as_str() {
        "striped" => {
            let list = segment
                .list("stripes")
                .ok_or_else(|| Problem(format!("{what} has no stripes")))?;
            if list.len() > MAX_STRIPES.saturating_mul(2) {
                return Err(Problem(format!(
                    "{what} has more than {MAX_STRIPES} stripes"
                )));
            }
            for pair in list.chunks(2) {
                match pair {
                    [Value::Str(pv), Value::Int(pe)] => parsed.stripes.push((
                        name(pv, "physical volume")?,
                        u64::try_from(*pe)
                            .map_err(|_| Problem(format!("{what} has a negative extent")))?,
                    )),
                    _ => return Err(Problem(format!("{what} has a damaged stripe list"))),
                }
            }
            let stripe_count = segment.int("stripe_count");
            if stripe_count.is_some_and(|n| n != parsed.stripes.len() as i64) {
                return Err(Problem(format!(
                    "{what} lists {} stripes for its stripe_count of {}",
                    parsed.stripes.len(),
                    stripe_count.unwrap_or(0)
                )));
            }
            if parsed.stripes.len() > 1 {
                parsed.stripe_size = bytes(count(segment, "stripe_size", &what)?, &what)?;
            }
        }
        "snapshot" => {
            let volume = |key| {
                segment
                    .string(key)
                    .map(|s| name(s, "logical volume"))
                    .transpose()
            };
            parsed.cow_store = volume("cow_store")?;
            parsed.origin = volume("origin")?;
        }
        _ => {}
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::super::text;
    use super::*;

    /// What `vgcfgbackup` wrote for a group of two PVs with a linear and a striped volume,
    /// with a snapshot and a thin pool added as LVM writes them.
    pub(crate) const GROUP: &str = r#"vgt {
	id = "UqY5Jm-whcE-EU3Q-y7VE-7vxD-vfrR-B543QT"
	seqno = 3
	format = "lvm2"
	status = ["RESIZEABLE", "READ", "WRITE"]
	flags = []
	extent_size = 8192
	max_lv = 0
	max_pv = 0
	metadata_copies = 0
	physical_volumes {
		pv0 {
			id = "kzX0sf-6XYB-IjAe-N2PT-0xXm-0cgF-KnB39k"
			device = "/dev/loop0"
			status = ["ALLOCATABLE"]
			flags = []
			dev_size = 57344
			pe_start = 2048
			pe_count = 6
		}
	}
	logical_volumes {
		lin {
			id = "Oa7E1L-0pz6-zfDh-XXKT-zLlZ-Mnk8-36Z2GG"
			status = ["READ", "WRITE", "VISIBLE"]
			flags = []
			segment_count = 1
			segment1 {
				start_extent = 0
				extent_count = 2
				type = "striped"
				stripe_count = 1
				stripes = [
					"pv0", 0
				]
			}
		}
		str {
			status = ["READ", "WRITE", "VISIBLE"]
			segment1 {
				start_extent = 0
				extent_count = 2
				type = "striped"
				stripe_count = 2
				stripe_size = 128
				stripes = [
					"pv0", 2,
					"pv0", 3
				]
			}
		}
		snapshot0 {
			status = ["READ"]
			segment1 {
				start_extent = 0
				extent_count = 2
				type = "snapshot"
				chunk_size = 8
				origin = "lin"
				cow_store = "str"
			}
		}
		pool {
			status = ["READ", "WRITE", "VISIBLE"]
			segment1 {
				start_extent = 0
				extent_count = 1
				type = "thin-pool"
				metadata = "pool_tmeta"
				pool = "pool_tdata"
			}
		}
	}
}
"#;

    #[test]
    fn a_group_from_its_text() {
        let top = text::parse(GROUP.as_bytes()).unwrap();
        let vg = volume_group(&top).unwrap();
        assert_eq!((vg.name.as_str(), vg.seqno), ("vgt", 3));
        assert_eq!(vg.extent_size, 4 << 20);
        assert_eq!(vg.pvs[0].uuid, "kzX0sf6XYBIjAeN2PT0xXm0cgFKnB39k");
        assert_eq!(vg.pvs[0].pe_start, 1 << 20);
        let lin = &vg.lvs[0];
        assert!(lin.visible);
        assert_eq!(lin.segments[0].stripes, vec![("pv0".to_owned(), 0)]);
        let str_ = &vg.lvs[1];
        assert_eq!(str_.segments[0].stripe_size, 64 << 10);
        assert!(!vg.lvs[2].visible);
        assert_eq!(vg.lvs[2].segments[0].cow_store.as_deref(), Some("str"));
        assert_eq!(vg.lvs[2].segments[0].origin.as_deref(), Some("lin"));
        assert_eq!(vg.lvs[3].segments[0].kind, "thin-pool");
    }

    #[test]
    fn hostile_groups_are_refused() {
        let bad = |from: &str, to: &str| {
            let text = GROUP.replacen(from, to, 1);
            let top = text::parse(text.as_bytes()).unwrap();
            volume_group(&top).unwrap_err().0
        };
        assert!(bad("lin {", "-lin {").contains("name"));
        assert!(bad("seqno = 3", "seqno = -3").contains("seqno"));
        assert!(bad("extent_size = 8192", "extent_size = 0").contains("0"));
        assert!(bad("pe_start = 2048", "pe_start = 36028797018963968").contains("too large"));
        assert!(bad("\"pv0\", 0", "\"pv0\", -1").contains("negative"));
        assert!(bad("\"pv0\", 0", "\"pv0\"").contains("stripe"));
        assert!(bad("stripe_count = 1", "stripe_count = 2").contains("stripe_count"));
        assert!(bad("\"pv0\", 0", "\"p v\", 0").contains("name"));
    }
}
