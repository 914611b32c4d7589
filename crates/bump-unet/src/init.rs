//! Seeded parameter creation: every parameter is drawn from its own ChaCha8 stream, keyed by
//! the model seed and the parameter's name, so the weights do not depend on construction order.

use candle_core::{Device, Tensor, Var};
use candle_nn::VarMap;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How a parameter is initialised.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Init {
    /// U(−1/√fan_in, 1/√fan_in): PyTorch's default for conv and linear weights and biases
    /// (kaiming_uniform with a = √5).
    Uniform { fan_in: usize },
    /// Every element equal to this value (GroupNorm γ = 1, β = 0).
    Const(f32),
}

/// 64-bit FNV-1a, a stable (platform- and release-independent) hash of parameter names.
pub(crate) fn fnv1a64(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A generator for the stream `(seed, name)`.
pub(crate) fn named_rng(seed: u64, name: &str) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(fnv1a64(name));
    rng
}

/// Creates parameters into a [`VarMap`] under a name prefix.
#[derive(Clone)]
pub(crate) struct ParamBuilder<'a> {
    pub varmap: &'a VarMap,
    pub seed: u64,
    pub device: &'a Device,
    pub prefix: String,
}

impl<'a> ParamBuilder<'a> {
    /// A builder whose names get `name.` prepended.
    pub fn pp(&self, name: impl std::fmt::Display) -> Self {
        let prefix = if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        };
        Self {
            prefix,
            ..self.clone()
        }
    }

    /// Creates (or, when the name exists, fails on) the parameter `prefix.name`.
    pub fn get(&self, shape: &[usize], name: &str, init: Init) -> candle_core::Result<Tensor> {
        let full = if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        };
        let n: usize = shape.iter().product();
        let data: Vec<f32> = match init {
            Init::Uniform { fan_in } => {
                let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
                let mut rng = named_rng(self.seed, &full);
                (0..n).map(|_| rng.random_range(-bound..bound)).collect()
            }
            Init::Const(v) => vec![v; n],
        };
        let t = Tensor::from_vec(data, shape, &Device::Cpu)?.to_device(self.device)?;
        let var = Var::from_tensor(&t)?;
        let mut map = self
            .varmap
            .data()
            .lock()
            .map_err(|_| candle_core::Error::Msg("parameter map lock poisoned".into()))?;
        if map.contains_key(&full) {
            candle_core::bail!("parameter {full} created twice");
        }
        let tensor = var.as_tensor().clone();
        map.insert(full, var);
        Ok(tensor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_known_answers() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64("foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn uniform_init_respects_bound_and_is_keyed_by_name() {
        let vm = VarMap::new();
        let pb = ParamBuilder {
            varmap: &vm,
            seed: 3,
            device: &Device::Cpu,
            prefix: "m".into(),
        };
        let a = pb.get(&[64, 9], "a", Init::Uniform { fan_in: 9 }).unwrap();
        let b = pb.get(&[64, 9], "b", Init::Uniform { fan_in: 9 }).unwrap();
        let a: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
        let b: Vec<f32> = b.flatten_all().unwrap().to_vec1().unwrap();
        assert!(a.iter().all(|v| v.abs() < 1.0 / 3.0));
        assert_ne!(a, b);
        assert!(pb.get(&[1], "a", Init::Const(0.0)).is_err());
        assert_eq!(vm.all_vars().len(), 2);
    }
}
