//! Run-time choice of the instruction set of the CPU kernels, and a report of what each kernel
//! (ours and `gemm`'s) runs on this machine.
//!
//! The kernels are compiled for the baseline target and again, through `#[target_feature]`,
//! for AVX2+FMA and AVX-512F; each call picks the best one the CPU supports, so one binary runs
//! on any x86-64 (no `-C target-cpu` needed). [`set_max_isa`] caps the choice process-wide, for
//! A/B benches and for tests that compare the paths on one machine.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction-set path of the CPU kernels, from the most portable to the widest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// The compilation target's baseline (SSE2 on x86-64), and every non-x86 target.
    Baseline,
    /// 256-bit AVX2 with FMA.
    Avx2Fma,
    /// 512-bit AVX-512F (which implies AVX2 and FMA).
    Avx512,
}

impl Isa {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Isa::Baseline,
            1 => Isa::Avx2Fma,
            _ => Isa::Avx512,
        }
    }

    /// A short name: `baseline`, `avx2+fma` or `avx512f`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Baseline => "baseline",
            Isa::Avx2Fma => "avx2+fma",
            Isa::Avx512 => "avx512f",
        }
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The widest path this CPU supports (cached by `std`'s feature detection).
pub fn detected_isa() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Isa::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Isa::Avx2Fma;
        }
    }
    Isa::Baseline
}

/// The cap set by [`set_max_isa`]; `u8::MAX` means none.
static MAX_ISA: AtomicU8 = AtomicU8::new(u8::MAX);

/// Caps the path of our CPU kernels process-wide (`None` removes the cap): a kernel runs the
/// widest path the CPU supports that is not above the cap. For A/B measurements and tests;
/// `gemm` chooses its own kernels once per process and is not affected.
pub fn set_max_isa(cap: Option<Isa>) {
    MAX_ISA.store(cap.map_or(u8::MAX, |i| i as u8), Ordering::Relaxed);
}

/// The path our CPU kernels take now: [`detected_isa`], capped by [`set_max_isa`].
pub fn kernel_isa() -> Isa {
    capped(detected_isa(), MAX_ISA.load(Ordering::Relaxed))
}

fn capped(detected: Isa, cap: u8) -> Isa {
    detected.min(Isa::from_u8(cap))
}

/// Whether `gemm`'s AVX-512 micro-kernels are compiled in. Our dependency on `gemm` enables
/// its `x86-v4` feature (workspace Cargo.toml), and Cargo unifies features, so this holds for
/// candle's matmuls too; the feature only exists on x86.
pub const GEMM_X86_V4_COMPILED: bool = cfg!(target_arch = "x86_64");

/// The path `gemm` takes on this CPU. gemm-common 0.19 (`gemm_def!`'s `init_gemm_fn`) picks
/// its `avx512f` kernels when `x86-v4` is compiled in and `is_x86_feature_detected!("avx512f")`,
/// else its `fma` kernels when FMA is detected, else scalar ones; once per process.
pub fn gemm_isa() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if GEMM_X86_V4_COMPILED && std::arch::is_x86_feature_detected!("avx512f") {
            return Isa::Avx512;
        }
        if std::arch::is_x86_feature_detected!("fma") {
            return Isa::Avx2Fma;
        }
    }
    Isa::Baseline
}

/// Which path each CPU kernel takes in this process (see [`isa_report`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsaReport {
    /// The widest path the CPU supports.
    pub detected: Isa,
    /// The cap of [`set_max_isa`], if any.
    pub cap: Option<Isa>,
    /// Whether `gemm`'s AVX-512 kernels are compiled in ([`GEMM_X86_V4_COMPILED`]).
    pub gemm_x86_v4_compiled: bool,
    /// `(kernel, path)` for every kernel family, `gemm`'s included.
    pub kernels: Vec<(&'static str, Isa)>,
}

impl fmt::Display for IsaReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ISA: CPU supports {}", self.detected)?;
        if let Some(cap) = self.cap {
            write!(f, " (our kernels capped at {cap})")?;
        }
        write!(
            f,
            "; gemm x86-v4 (AVX-512) kernels {}",
            if self.gemm_x86_v4_compiled {
                "compiled in"
            } else {
                "not compiled in"
            }
        )?;
        for (name, isa) in &self.kernels {
            write!(f, "\n  {name}: {isa}")?;
        }
        Ok(())
    }
}

/// Which instruction-set path each CPU kernel takes in this process: our GroupNorm(+SiLU) and
/// softmax kernels, and `gemm` (convolutions, their gradients, and candle's matmuls). The
/// conv layout copies (im2col, col2im) are plain loops and `memcpy`, which libc dispatches on
/// its own. Print it (`Display`) at the start of a measurement.
pub fn isa_report() -> IsaReport {
    let cap = match MAX_ISA.load(Ordering::Relaxed) {
        u8::MAX => None,
        v => Some(Isa::from_u8(v)),
    };
    let ours = kernel_isa();
    IsaReport {
        detected: detected_isa(),
        cap,
        gemm_x86_v4_compiled: GEMM_X86_V4_COMPILED,
        kernels: vec![
            ("gemm (conv2d fwd/bwd, matmul)", gemm_isa()),
            ("group_norm(+silu) fwd/bwd", ours),
            ("scaled_softmax fwd/bwd", ours),
            ("im2col/col2im, upsample", Isa::Baseline),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The process-wide cap itself is exercised in tests/ops_isa.rs (its own process): setting
    // it here would change the path of the other unit tests running alongside.
    #[test]
    fn the_cap_lowers_but_never_raises_the_path() {
        assert_eq!(capped(Isa::Avx512, Isa::Avx2Fma as u8), Isa::Avx2Fma);
        assert_eq!(capped(Isa::Avx512, Isa::Baseline as u8), Isa::Baseline);
        assert_eq!(capped(Isa::Avx2Fma, Isa::Avx512 as u8), Isa::Avx2Fma);
        assert_eq!(capped(Isa::Baseline, u8::MAX), Isa::Baseline);
        assert_eq!(capped(Isa::Avx512, u8::MAX), Isa::Avx512);
        for isa in [Isa::Baseline, Isa::Avx2Fma, Isa::Avx512] {
            assert_eq!(Isa::from_u8(isa as u8), isa);
        }
    }

    #[test]
    fn the_report_names_every_kernel_family() {
        let r = isa_report();
        let text = r.to_string();
        for (name, isa) in &r.kernels {
            assert!(text.contains(&format!("{name}: {isa}")), "{text}");
        }
        assert!(r.kernels.iter().any(|(n, _)| n.starts_with("gemm")));
        assert!(r
            .kernels
            .iter()
            .filter(|(n, _)| !n.starts_with("gemm"))
            .all(|&(_, isa)| isa <= r.detected));
    }
}
