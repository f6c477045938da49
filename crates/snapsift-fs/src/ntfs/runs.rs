//! Data runs ("mapping pairs"): where a non-resident value's clusters are (no I/O).
//!
//! Each run is a header byte (low nibble: bytes of the length, high nibble: bytes of the
//! offset), the length in clusters, and the offset of its first cluster from the previous
//! run's, signed; a run without offset bytes is sparse. Decoding stops at a zero header, at
//! the end of the bytes, at [`MAX_RUNS`] or at damage (a length of zero or of more than 8
//! bytes, a cluster number below zero or past 2^63): what was decoded before is kept, and
//! [`Decoded::damaged`] says the list was cut.

/// Runs decoded per attribute at most: more than a record can hold (a 4 KiB record holds
/// at most 1,365 runs of three bytes), so only a hostile list is cut.
pub(crate) const MAX_RUNS: usize = 1 << 16;

/// `len` clusters of a value from cluster `vcn` (of the value) are at cluster `lcn` of the
/// volume, or read as zeros (`lcn` is `None`: a sparse run, or a compression unit's tail).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    /// The value's first cluster in this run.
    pub(crate) vcn: u64,
    /// Clusters.
    pub(crate) len: u64,
    /// The volume's first cluster, `None` if sparse.
    pub(crate) lcn: Option<u64>,
}

impl Run {
    /// One past the run's last cluster of the value.
    pub(crate) fn vcn_end(&self) -> u64 {
        self.vcn.saturating_add(self.len)
    }
}

/// The runs of one attribute.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Decoded {
    /// The runs, in the value's order.
    pub(crate) runs: Vec<Run>,
    /// Whether decoding stopped at damage or at [`MAX_RUNS`] rather than at the end marker.
    pub(crate) damaged: bool,
}

/// Decodes the data runs in `bytes`, the first mapping cluster `lowest_vcn` of the value.
pub(crate) fn decode(bytes: &[u8], lowest_vcn: u64) -> Decoded {
    let mut out = Decoded::default();
    let mut at = 0usize;
    let mut vcn = lowest_vcn;
    let mut lcn: i128 = 0;
    while let Some(&header) = bytes.get(at) {
        if header == 0 {
            return out;
        }
        if out.runs.len() >= MAX_RUNS {
            break;
        }
        let len_bytes = usize::from(header & 0x0F);
        let offset_bytes = usize::from(header >> 4);
        let len_at = at.saturating_add(1);
        let offset_at = len_at.saturating_add(len_bytes);
        let next = offset_at.saturating_add(offset_bytes);
        let (Some(len_raw), Some(offset_raw)) =
            (bytes.get(len_at..offset_at), bytes.get(offset_at..next))
        else {
            break;
        };
        if len_bytes == 0 || len_bytes > 8 || offset_bytes > 8 {
            break;
        }
        let len = unsigned(len_raw);
        if len == 0 || len > i64::MAX as u64 {
            break;
        }
        let run_lcn = if offset_bytes == 0 {
            None
        } else {
            lcn = lcn.saturating_add(signed(offset_raw));
            match u64::try_from(lcn) {
                Ok(at) if at <= i64::MAX as u64 => Some(at),
                _ => break,
            }
        };
        out.runs.push(Run {
            vcn,
            len,
            lcn: run_lcn,
        });
        let Some(after) = vcn.checked_add(len) else {
            break;
        };
        vcn = after;
        at = next;
    }
    out.damaged = true;
    out
}

/// A little-endian unsigned number of up to 8 bytes.
fn unsigned(raw: &[u8]) -> u64 {
    raw.iter()
        .rev()
        .fold(0u64, |acc, &b| acc.wrapping_shl(8) | u64::from(b))
}

/// A little-endian two's complement number of up to 8 bytes, sign-extended.
fn signed(raw: &[u8]) -> i128 {
    let value = i128::from(unsigned(raw));
    let bits = u32::try_from(raw.len().saturating_mul(8)).unwrap_or(64);
    let negative = raw.last().is_some_and(|&b| b & 0x80 != 0);
    if negative {
        value.saturating_sub(1i128.checked_shl(bits).unwrap_or(0))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(vcn: u64, len: u64, lcn: Option<u64>) -> Run {
        Run { vcn, len, lcn }
    }

    #[test]
    fn runs_sparse_runs_and_negative_offsets() {
        // 0x13 clusters at 4; 2 sparse; 3 at 4 + 0x100 = 260; 1 at 260 - 2 = 258; end.
        let bytes = [
            0x11, 0x13, 0x04, 0x01, 0x02, 0x21, 0x03, 0x00, 0x01, 0x11, 0x01, 0xFE, 0x00,
        ];
        let decoded = decode(&bytes, 0);
        assert!(!decoded.damaged);
        assert_eq!(
            decoded.runs,
            vec![
                run(0, 0x13, Some(4)),
                run(0x13, 2, None),
                run(0x15, 3, Some(260)),
                run(0x18, 1, Some(258)),
            ]
        );
        // A run at cluster 0 ($Boot): one offset byte holding 0 is not sparse.
        assert_eq!(
            decode(&[0x11, 0x02, 0x00, 0x00], 0).runs,
            vec![run(0, 2, Some(0))]
        );
        // Extension records continue a value from their lowest VCN.
        assert_eq!(decode(&[0x01, 0x05], 100).runs, vec![run(100, 5, None)]);
    }

    #[test]
    fn damage_cuts_the_list() {
        // A run below cluster 0.
        let below = decode(&[0x11, 0x01, 0x02, 0x11, 0x01, 0xF0, 0x00], 0);
        assert!(below.damaged);
        assert_eq!(below.runs, vec![run(0, 1, Some(2))]);
        // A zero length, a nine-byte length, bytes cut short, no end marker.
        assert!(decode(&[0x11, 0x00, 0x01, 0x00], 0).damaged);
        assert!(decode(&[0x19, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 0).damaged);
        assert!(decode(&[0x44, 0x01], 0).damaged);
        assert!(decode(&[0x11, 0x01, 0x02], 0).damaged);
        // A VCN that would wrap.
        let wrap = decode(
            &[0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x00],
            2,
        );
        assert!(wrap.damaged || wrap.runs.len() == 1);
        // Eight offset bytes of 0x80..: far negative.
        let far = decode(&[0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x00], 0);
        assert!(far.damaged && far.runs.is_empty());
        assert!(decode(&[], 0).damaged);
        assert!(!decode(&[0], 0).damaged);
    }

    #[test]
    fn many_runs_are_cut() {
        let mut bytes: Vec<u8> = std::iter::repeat_n([0x11u8, 0x01, 0x01], MAX_RUNS + 5)
            .flatten()
            .collect();
        bytes.push(0);
        let decoded = decode(&bytes, 0);
        assert!(decoded.damaged);
        assert_eq!(decoded.runs.len(), MAX_RUNS);
    }
}
