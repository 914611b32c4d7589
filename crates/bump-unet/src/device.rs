//! Device selection: CPU by default, CUDA or Metal when compiled in.

use crate::{Error, Result};
use candle_core::Device;
use std::fmt;
use std::str::FromStr;

/// A device family and ordinal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DeviceKind {
    /// The host CPU (the default).
    #[default]
    Cpu,
    /// CUDA GPU with this ordinal (feature `cuda`).
    Cuda(usize),
    /// Metal GPU with this ordinal (feature `metal`).
    Metal(usize),
}

impl DeviceKind {
    /// The backend without the ordinal: `cpu`, `cuda` or `metal` (e.g. a bench-name prefix).
    pub fn family(&self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Cuda(_) => "cuda",
            Self::Metal(_) => "metal",
        }
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda(i) | Self::Metal(i) => write!(f, "{}:{i}", self.family()),
        }
    }
}

impl FromStr for DeviceKind {
    type Err = Error;

    /// Parses `cpu`, `cuda`, `cuda:N`, `metal`, `metal:N`.
    fn from_str(s: &str) -> Result<Self> {
        let (family, ordinal) = match s.split_once(':') {
            Some((f, n)) => {
                let n = n
                    .parse::<usize>()
                    .map_err(|_| Error::InvalidArgument(format!("bad device ordinal in `{s}`")))?;
                (f, n)
            }
            None => (s, 0),
        };
        match family.to_ascii_lowercase().as_str() {
            "cpu" if ordinal == 0 => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(ordinal)),
            "metal" => Ok(Self::Metal(ordinal)),
            _ => Err(Error::InvalidArgument(format!(
                "unknown device `{s}`; expected cpu, cuda[:N] or metal[:N]"
            ))),
        }
    }
}

/// Opens a device. Asking for CUDA or Metal in a build without that feature gives
/// [`Error::FeatureNotEnabled`], naming the feature to enable.
pub fn device(kind: DeviceKind) -> Result<Device> {
    match kind {
        DeviceKind::Cpu => Ok(Device::Cpu),
        DeviceKind::Cuda(i) => cuda(i),
        DeviceKind::Metal(i) => metal(i),
    }
}

#[cfg(feature = "cuda")]
fn cuda(i: usize) -> Result<Device> {
    open_guarded("CUDA", || Device::new_cuda(i))
}

#[cfg(not(feature = "cuda"))]
fn cuda(_: usize) -> Result<Device> {
    Err(Error::FeatureNotEnabled {
        device: "CUDA",
        feature: "cuda",
    })
}

#[cfg(feature = "metal")]
fn metal(i: usize) -> Result<Device> {
    open_guarded("Metal", || Device::new_metal(i))
}

/// Opens a GPU device, turning a panic inside the backend (cudarc panics when `libcuda` cannot
/// be loaded; candle's Metal backend when the ordinal is out of range) into a classified
/// [`DeviceFailure`] instead of a backtrace. The panic hook is silenced meanwhile.
#[cfg(any(feature = "cuda", feature = "metal"))]
fn open_guarded(
    family: &'static str,
    open: impl FnOnce() -> candle_core::Result<Device>,
) -> Result<Device> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(open));
    std::panic::set_hook(hook);
    match r {
        Ok(r) => Ok(r?),
        Err(payload) => {
            let text = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the backend panicked".into());
            Err(DeviceFailure::classify_text(family, &text)
                .unwrap_or_else(|| DeviceFailure::Driver {
                    family,
                    detail: first_line(&text),
                })
                .into())
        }
    }
}

#[cfg(not(feature = "metal"))]
fn metal(_: usize) -> Result<Device> {
    Err(Error::FeatureNotEnabled {
        device: "Metal",
        feature: "metal",
    })
}

/// A device, driver or out-of-memory failure, classified from candle's error: one line that
/// says what failed and what to check (candle's own message for these is the driver's raw
/// error, often followed by a backtrace).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceFailure {
    /// No usable device: none installed or visible, or the ordinal is out of range.
    #[error(
        "no {family} device available ({detail}); check that a GPU is installed and visible \
         ({}), or run with --device cpu",
        visibility_hint(family)
    )]
    NoDevice {
        /// `CUDA` or `Metal`.
        family: &'static str,
        /// The driver's code or first message line.
        detail: String,
    },
    /// The driver is missing, too old for this build, or failed to initialise.
    #[error(
        "the {family} driver failed ({detail}); check that the driver is installed and supports \
         the toolkit this build was compiled with ({}), or run with --device cpu",
        driver_hint(family)
    )]
    Driver {
        /// `CUDA` or `Metal`.
        family: &'static str,
        /// The driver's code or first message line.
        detail: String,
    },
    /// The GPU cannot run this build's kernels (compiled for another architecture).
    #[error(
        "the {family} device cannot run this build's kernels ({detail}); rebuild for its \
         architecture (CUDA_COMPUTE_CAP, see the README's Features section)"
    )]
    UnsupportedKernels {
        /// `CUDA` or `Metal`.
        family: &'static str,
        /// The driver's code or first message line.
        detail: String,
    },
    /// The device ran out of memory.
    #[error(
        "{family} device out of memory ({detail}); lower train.batch or the model's widths (model.*), \
         or free the GPU ({})",
        memory_hint(family)
    )]
    OutOfMemory {
        /// `CUDA` or `Metal`.
        family: &'static str,
        /// The driver's code or first message line.
        detail: String,
    },
}

fn visibility_hint(family: &str) -> &'static str {
    if family == "CUDA" {
        "nvidia-smi, CUDA_VISIBLE_DEVICES, the ordinal in --device cuda:N"
    } else {
        "the ordinal in --device metal:N"
    }
}

fn driver_hint(family: &str) -> &'static str {
    if family == "CUDA" {
        "nvidia-smi shows the driver's CUDA version; libcuda.so must be on the loader path"
    } else {
        "macOS and Metal versions"
    }
}

fn memory_hint(family: &str) -> &'static str {
    if family == "CUDA" {
        "nvidia-smi lists the processes holding it"
    } else {
        "Activity Monitor shows GPU memory"
    }
}

/// The first line of `text`, at most 160 characters.
fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    match line.char_indices().nth(160) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

/// Driver codes and messages, by failure (matched case-sensitively, first match wins).
const OUT_OF_MEMORY: &[&str] = &[
    "CUDA_ERROR_OUT_OF_MEMORY",
    "cudaErrorMemoryAllocation",
    "CUBLAS_STATUS_ALLOC_FAILED",
    "CUDNN_STATUS_ALLOC_FAILED",
    "out of memory",
    "Out of memory",
    "OutOfMemory",
    "Insufficient Memory",
    "failed to allocate",
];
const NO_DEVICE: &[&str] = &[
    "CUDA_ERROR_NO_DEVICE",
    "CUDA_ERROR_INVALID_DEVICE",
    "no CUDA-capable device",
    "invalid device ordinal",
    "cudaErrorNoDevice",
    "cudaErrorInvalidDevice",
    "swap_remove index",
    "no Metal device",
    "No Metal device",
];
const UNSUPPORTED_KERNELS: &[&str] = &[
    "CUDA_ERROR_NO_BINARY_FOR_GPU",
    "CUDA_ERROR_UNSUPPORTED_PTX_VERSION",
    "CUDA_ERROR_INVALID_PTX",
    "CUDA_ERROR_INVALID_IMAGE",
    "no kernel image is available",
];
const DRIVER: &[&str] = &[
    "CUDA_ERROR_INSUFFICIENT_DRIVER",
    "CUDA_ERROR_NOT_INITIALIZED",
    "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH",
    "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE",
    "CUDA_ERROR_SHARED_OBJECT_INIT_FAILED",
    "CUDA_ERROR_SYSTEM_NOT_READY",
    "CUDA_ERROR_DEVICE_UNAVAILABLE",
    "CUDA_ERROR_DEVICES_UNAVAILABLE",
    "CUDA_ERROR_OPERATING_SYSTEM",
    "driver version is insufficient",
    "Unable to dynamically load",
    "libcuda",
    "libnvrtc",
    "DriverError",
];

impl DeviceFailure {
    /// Classifies a candle error: `Some` for device, driver and out-of-memory failures of the
    /// CUDA or Metal backend (looking through candle's backtrace, context and path wrappers),
    /// `None` for every other error.
    pub fn classify(err: &candle_core::Error) -> Option<Self> {
        use candle_core::Error as E;
        match err {
            E::WithBacktrace { inner, .. }
            | E::Context { inner, .. }
            | E::WithPath { inner, .. } => Self::classify(inner),
            E::Cuda(e) => {
                let text = format!("{e} {e:?}");
                Self::classify_text("CUDA", &text).or_else(|| {
                    Some(Self::Driver {
                        family: "CUDA",
                        detail: first_line(&e.to_string()),
                    })
                })
            }
            E::Metal(e) => Self::classify_text("Metal", &e.to_string()),
            other => {
                let text = other.to_string();
                let family = if text.contains("CUDA") || text.contains("cuda") {
                    "CUDA"
                } else if text.contains("Metal") || text.contains("metal") {
                    "Metal"
                } else {
                    return None;
                };
                Self::classify_text(family, &text)
            }
        }
    }

    /// Classifies a driver message of the `family` backend (`CUDA` or `Metal`) by the codes and
    /// phrases drivers use; `None` when it names none of them.
    pub fn classify_text(family: &'static str, text: &str) -> Option<Self> {
        let code = |patterns: &[&str]| {
            patterns.iter().find(|p| text.contains(**p)).map(|p| {
                // The driver's code (CUDA_ERROR_…) is the detail; a phrase gives the line.
                if p.starts_with("CUDA_ERROR_") || p.starts_with("cudaError") {
                    p.to_string()
                } else {
                    first_line(text)
                }
            })
        };
        if let Some(detail) = code(OUT_OF_MEMORY) {
            return Some(Self::OutOfMemory { family, detail });
        }
        if let Some(detail) = code(NO_DEVICE) {
            return Some(Self::NoDevice { family, detail });
        }
        if let Some(detail) = code(UNSUPPORTED_KERNELS) {
            return Some(Self::UnsupportedKernels { family, detail });
        }
        code(DRIVER).map(|detail| Self::Driver { family, detail })
    }
}

/// The CPU plus the first CUDA and Metal devices when their features are compiled in and a
/// device answers.
pub fn compiled_devices() -> Vec<DeviceKind> {
    let mut v = vec![DeviceKind::Cpu];
    if cfg!(feature = "cuda") && device(DeviceKind::Cuda(0)).is_ok() {
        v.push(DeviceKind::Cuda(0));
    }
    if cfg!(feature = "metal") && device(DeviceKind::Metal(0)).is_ok() {
        v.push(DeviceKind::Metal(0));
    }
    v
}

/// Runs `body` once on every device of [`compiled_devices`], stopping at the first error,
/// which is returned with the device it happened on.
pub fn for_each_device<F>(mut body: F) -> std::result::Result<(), (DeviceKind, Error)>
where
    F: FnMut(&Device) -> Result<()>,
{
    for kind in compiled_devices() {
        let dev = device(kind).map_err(|e| (kind, e))?;
        body(&dev).map_err(|e| (kind, e))?;
    }
    Ok(())
}

/// Defines a `#[test]` that runs its body on every compiled-in device.
///
/// ```ignore
/// bump_unet::device_test!(adds_on_every_device, |dev| {
///     let t = candle_core::Tensor::new(&[1f32, 2.0], dev)?;
///     assert_eq!((t.sum_all()?.to_scalar::<f32>()?), 3.0);
///     Ok(())
/// });
/// ```
#[macro_export]
macro_rules! device_test {
    ($name:ident, |$dev:ident| $body:block) => {
        #[test]
        fn $name() {
            let res = $crate::device::for_each_device(
                |$dev: &candle_core::Device| -> $crate::Result<()> { $body },
            );
            if let Err((kind, e)) = res {
                panic!("failed on {kind}: {e}");
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_names() {
        assert_eq!("cpu".parse::<DeviceKind>().unwrap(), DeviceKind::Cpu);
        assert_eq!("cuda".parse::<DeviceKind>().unwrap(), DeviceKind::Cuda(0));
        assert_eq!("CUDA:2".parse::<DeviceKind>().unwrap(), DeviceKind::Cuda(2));
        assert_eq!(
            "metal:1".parse::<DeviceKind>().unwrap(),
            DeviceKind::Metal(1)
        );
        assert!("tpu".parse::<DeviceKind>().is_err());
        assert!("cuda:x".parse::<DeviceKind>().is_err());
        for k in [DeviceKind::Cpu, DeviceKind::Cuda(3), DeviceKind::Metal(0)] {
            assert_eq!(k.to_string().parse::<DeviceKind>().unwrap(), k);
        }
        assert_eq!(DeviceKind::Cuda(3).to_string(), "cuda:3");
        let families =
            [DeviceKind::Cpu, DeviceKind::Cuda(3), DeviceKind::Metal(0)].map(|k| k.family());
        assert_eq!(families, ["cpu", "cuda", "metal"]);
    }

    #[test]
    fn cpu_is_default_and_always_available() {
        assert_eq!(DeviceKind::default(), DeviceKind::Cpu);
        assert!(device(DeviceKind::Cpu).unwrap().is_cpu());
        assert_eq!(compiled_devices()[0], DeviceKind::Cpu);
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_feature_names_the_feature() {
        let e = device(DeviceKind::Cuda(0)).unwrap_err();
        assert!(matches!(
            e,
            Error::FeatureNotEnabled {
                feature: "cuda",
                ..
            }
        ));
        assert!(e.to_string().contains("--features cuda"), "{e}");
    }

    /// A driver error as cudarc reports it (`DriverError(code, message)`).
    #[derive(Debug)]
    struct DriverError(&'static str, &'static str);
    impl std::fmt::Display for DriverError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "DriverError({}, {:?})", self.0, self.1)
        }
    }
    impl std::error::Error for DriverError {}

    fn cuda_err(code: &'static str, msg: &'static str) -> candle_core::Error {
        candle_core::Error::Cuda(Box::new(DriverError(code, msg)))
    }

    #[test]
    fn cuda_driver_errors_become_one_line_typed_failures() {
        let cases = [
            (
                cuda_err("CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"),
                "no CUDA device available (CUDA_ERROR_NO_DEVICE)",
                "nvidia-smi",
            ),
            (
                cuda_err("CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"),
                "no CUDA device available (CUDA_ERROR_INVALID_DEVICE)",
                "cuda:N",
            ),
            (
                cuda_err("CUDA_ERROR_OUT_OF_MEMORY", "out of memory"),
                "CUDA device out of memory (CUDA_ERROR_OUT_OF_MEMORY)",
                "train.batch",
            ),
            (
                cuda_err(
                    "CUDA_ERROR_INSUFFICIENT_DRIVER",
                    "CUDA driver version is insufficient for CUDA runtime version",
                ),
                "the CUDA driver failed (CUDA_ERROR_INSUFFICIENT_DRIVER)",
                "driver's CUDA version",
            ),
            (
                cuda_err(
                    "CUDA_ERROR_NO_BINARY_FOR_GPU",
                    "no kernel image is available for execution on the device",
                ),
                "cannot run this build's kernels (CUDA_ERROR_NO_BINARY_FOR_GPU)",
                "CUDA_COMPUTE_CAP",
            ),
            (
                cuda_err("CUDA_ERROR_UNKNOWN", "unknown error"),
                "the CUDA driver failed (DriverError(CUDA_ERROR_UNKNOWN",
                "--device cpu",
            ),
        ];
        for (err, start, hint) in cases {
            // candle wraps errors with a backtrace when RUST_BACKTRACE is set: looked through.
            let wrapped = candle_core::Error::WithBacktrace {
                inner: Box::new(err),
                backtrace: Box::new(std::backtrace::Backtrace::force_capture()),
            };
            let failure = DeviceFailure::classify(&wrapped).expect("classified");
            let msg = failure.to_string();
            assert!(msg.contains(start), "{msg}");
            assert!(msg.contains(hint), "{msg}");
            assert_eq!(msg.lines().count(), 1, "{msg}");
            // Through the crate's error type too (what `?` produces).
            let e: Error = wrapped.into();
            assert!(matches!(e, Error::Device(ref f) if *f == failure), "{e:?}");
        }
    }

    #[test]
    fn other_candle_errors_are_not_device_failures() {
        let e = candle_core::Error::Msg("shape mismatch in matmul".into());
        assert_eq!(DeviceFailure::classify(&e), None);
        assert!(matches!(Error::from(e), Error::Candle(_)));
        // A message naming a CUDA code without the Cuda variant (e.g. a context string).
        let e = candle_core::Error::Msg("launch failed: CUDA_ERROR_OUT_OF_MEMORY".into());
        assert!(matches!(
            DeviceFailure::classify(&e),
            Some(DeviceFailure::OutOfMemory { family: "CUDA", .. })
        ));
    }

    #[test]
    fn metal_and_backend_panics_are_classified() {
        let e = candle_core::Error::Metal(candle_core::MetalError::Message(
            "Failed to create buffer: Insufficient Memory".into(),
        ));
        let f = DeviceFailure::classify(&e).unwrap();
        assert!(
            matches!(
                f,
                DeviceFailure::OutOfMemory {
                    family: "Metal",
                    ..
                }
            ),
            "{f:?}"
        );
        // cudarc's panic when libcuda cannot be loaded, and candle's Metal ordinal panic.
        let f = DeviceFailure::classify_text(
            "CUDA",
            "Unable to dynamically load the \"cuda\" shared library - searched for library \
             names: [\"libcuda.so\"]",
        )
        .unwrap();
        assert!(matches!(f, DeviceFailure::Driver { .. }), "{f:?}");
        assert!(f
            .to_string()
            .contains("libcuda.so must be on the loader path"));
        let f = DeviceFailure::classify_text(
            "Metal",
            "swap_remove index (is 3) should be < len (is 1)",
        )
        .unwrap();
        assert!(
            f.to_string().starts_with("no Metal device available"),
            "{f}"
        );
        assert_eq!(DeviceFailure::classify_text("CUDA", "all fine"), None);
    }

    #[cfg(not(feature = "metal"))]
    #[test]
    fn metal_without_feature_names_the_feature() {
        let e = device(DeviceKind::Metal(0)).unwrap_err();
        assert!(e.to_string().contains("--features metal"), "{e}");
    }
}
