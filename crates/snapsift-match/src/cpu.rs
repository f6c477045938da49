//! [`Avx2`]: the proof that this CPU has AVX2, which the SIMD passes (`teddy16`, `utf16_runs`)
//! hold before they run.
//!
//! # The safety argument, once
//!
//! The SIMD passes are functions compiled with `#[target_feature(enable = "avx2")]`. Running
//! one on a CPU without AVX2 executes instructions the CPU does not have, which is undefined
//! behaviour, so calling one from code not compiled for AVX2 is `unsafe`. An [`Avx2`] is made
//! in one place, [`Avx2::detect`], only after the CPU said it has AVX2, and nothing else can
//! make one (its field is private to this module). Code that holds an `Avx2` may therefore
//! call the AVX2 functions; each such call says only which `Avx2` it holds. Inside an AVX2
//! function, other AVX2 functions (and the AVX2 intrinsics that take no pointer) are safe to
//! call, so the argument is needed only where a pass is entered.

/// A zero-sized proof that this CPU has AVX2 (see the module docs). `Copy`: hold it anywhere.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2(());

impl Avx2 {
    /// `Some` where this CPU has AVX2 (an x86_64 CPU that says so), `None` elsewhere. The one
    /// place where AVX2 is detected; the answer is cached by `std`, so calling it per search
    /// costs one atomic load.
    #[inline]
    pub(crate) fn detect() -> Option<Avx2> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            return Some(Avx2(()));
        }
        None
    }
}

/// 32 bytes as one 256-bit vector.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn load256(bytes: &[u8; 32]) -> std::arch::x86_64::__m256i {
    // SAFETY: `bytes` is 32 readable bytes, and the load has no alignment requirement.
    unsafe { std::arch::x86_64::_mm256_loadu_si256(bytes.as_ptr().cast()) }
}
