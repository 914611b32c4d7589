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
    Ok(Device::new_cuda(i)?)
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
    Ok(Device::new_metal(i)?)
}

#[cfg(not(feature = "metal"))]
fn metal(_: usize) -> Result<Device> {
    Err(Error::FeatureNotEnabled {
        device: "Metal",
        feature: "metal",
    })
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

    #[cfg(not(feature = "metal"))]
    #[test]
    fn metal_without_feature_names_the_feature() {
        let e = device(DeviceKind::Metal(0)).unwrap_err();
        assert!(e.to_string().contains("--features metal"), "{e}");
    }
}
