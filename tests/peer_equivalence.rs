//! Our UNet against the PyTorch peer (`benches/peer/bump_unet.py`), through fixtures that
//! `python benches/peer/peer.py fixture` wrote: fixed inputs (x_t, t, cond) and the peer's
//! ε-prediction with our weights. The prediction must agree within 1e-4 max abs error.
//!
//! `tiny` and `quick` are rebuilt here from their seed (the fixture stores a weight
//! fingerprint, so a changed initialiser is reported as such, not as a model mismatch);
//! `features` (every option on: 2 res blocks, attention at two levels and in the middle,
//! a conditioning MLP) and `raw` (raw-scalar conditioning) carry their weights.

use bump_ddpm::unet::checkpoint::read_safetensors;
use bump_ddpm::unet::{UNet, UNetConfig};
use candle_core::{Device, Tensor};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

const TOLERANCE: f32 = 1e-4;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/peer")
        .join(format!("{name}.safetensors"))
}

/// The committed weights of a fixture (`weights.*`), by parameter name; empty when the model is
/// rebuilt from its seed.
fn fixture_weights(tensors: &BTreeMap<String, Tensor>) -> HashMap<String, Tensor> {
    tensors
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("weights.")
                .map(|n| (n.to_string(), v.clone()))
        })
        .collect()
}

/// Max |ours − peer| of `unet`'s prediction on the fixture's inputs.
fn max_error(unet: &UNet, tensors: &BTreeMap<String, Tensor>) -> f32 {
    let eps = unet
        .forward(
            &tensors["input.x"],
            &tensors["input.t"],
            &tensors["input.cond"],
        )
        .expect("forward");
    let expected = &tensors["expected.eps"];
    assert_eq!(eps.dims(), expected.dims(), "output shape");
    eps.sub(expected)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar()
        .unwrap()
}

/// Max |ours − peer| on the fixture's inputs, and the number of compared values.
fn compare(name: &str) -> (f32, usize) {
    let dev = Device::Cpu;
    let (tensors, meta) = read_safetensors(&fixture(name), &dev).expect("fixture readable");
    let cfg: UNetConfig = serde_json::from_str(&meta["config"]).expect("config JSON");
    let seed: u64 = meta["seed"].parse().expect("seed");
    let unet = UNet::new(&cfg, seed, &dev).expect("model");
    let weights = fixture_weights(&tensors);
    if weights.is_empty() {
        let expected: f64 = meta["weight_abs_sum"].parse().expect("fingerprint");
        let ours: f64 = unet
            .vars()
            .iter()
            .map(|(_, v)| {
                let flat: Vec<f32> = v.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
                flat.iter().map(|&w| (w as f64).abs()).sum::<f64>()
            })
            .sum();
        assert!(
            ((ours - expected) / expected).abs() < 1e-9,
            "{name}: initial weights changed (Σ|w| = {ours}, fixture {expected}); \
             rerun `python benches/peer/peer.py fixture`"
        );
    } else {
        unet.load_weights(&weights)
            .expect("fixture weights fit the config");
    }
    (
        max_error(&unet, &tensors),
        tensors["expected.eps"].elem_count(),
    )
}

macro_rules! peer_case {
    ($test:ident, $name:literal) => {
        #[test]
        fn $test() {
            let (err, n) = compare($name);
            assert!(n > 0);
            eprintln!("{}: max |ours − PyTorch| = {err:e} over {n} values", $name);
            assert!(
                err <= TOLERANCE,
                "{}: max |ours − PyTorch| = {err:e} over {n} values (tolerance {TOLERANCE:e})",
                $name
            );
        }
    };
}

peer_case!(tiny_preset_matches_pytorch, "tiny");
peer_case!(quick_model_matches_pytorch, "quick");
peer_case!(every_architecture_option_matches_pytorch, "features");
peer_case!(raw_scalar_conditioning_matches_pytorch, "raw");

/// The comparison can fail: perturbing one weight moves the prediction past the tolerance.
#[test]
fn a_perturbed_weight_is_detected() {
    let dev = Device::Cpu;
    let (tensors, meta) = read_safetensors(&fixture("features"), &dev).unwrap();
    let cfg: UNetConfig = serde_json::from_str(&meta["config"]).unwrap();
    let unet = UNet::new(&cfg, 0, &dev).unwrap();
    let mut weights = fixture_weights(&tensors);
    let key = "out.conv.bias".to_string();
    let bumped = (&weights[&key] + 1e-3).unwrap();
    weights.insert(key, bumped);
    unet.load_weights(&weights).unwrap();
    let err = max_error(&unet, &tensors);
    assert!(err > TOLERANCE, "perturbation went unnoticed: {err:e}");
}
