//! Model tests: shapes, taps, gradients, seeded initialisation, weight loading, devices.

use bump_unet::{ConditionEncoding, Error, UNet, UNetConfig, LAYER4_ALIAS};
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;

/// Deterministic inputs: x in [-1, 1], integer timesteps, centres in pixels.
fn inputs(b: usize, side: usize, dev: &Device) -> (Tensor, Tensor, Tensor) {
    let n = b * side * side;
    let x: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 200) as f32 / 100.0 - 1.0)
        .collect();
    let t: Vec<f32> = (0..b).map(|i| ((i * 379) % 1000) as f32).collect();
    let c: Vec<f32> = (0..2 * b).map(|i| ((i * 11) % 32) as f32 + 0.3).collect();
    (
        Tensor::from_vec(x, (b, 1, side, side), dev).unwrap(),
        Tensor::from_vec(t, b, dev).unwrap(),
        Tensor::from_vec(c, (b, 2), dev).unwrap(),
    )
}

fn small() -> UNetConfig {
    UNetConfig::tiny().with_widths(8, vec![1, 2, 2])
}

#[test]
fn tiny_preset_shapes_and_taps() {
    let dev = Device::Cpu;
    let unet = UNet::new(&UNetConfig::tiny(), 0, &dev).unwrap();
    let (x, t, c) = inputs(3, 32, &dev);
    let y = unet.forward(&x, &t, &c).unwrap();
    assert_eq!(y.dims(), [3, 1, 32, 32]);
    let names = unet.tap_names();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (y2, taps) = unet.forward_with_taps(&x, &t, &c, &refs).unwrap();
    assert_eq!(
        y2.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        y.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    );
    let expect: &[(&str, [usize; 4])] = &[
        ("down0", [3, 16, 32, 32]),
        ("down1", [3, 32, 16, 16]),
        ("down2", [3, 32, 8, 8]),
        ("bottleneck", [3, 32, 8, 8]),
        ("up2", [3, 32, 8, 8]),
        ("up1", [3, 32, 16, 16]),
        ("up0", [3, 16, 32, 32]),
        (LAYER4_ALIAS, [3, 32, 8, 8]),
    ];
    assert_eq!(taps.len(), expect.len());
    for (name, dims) in expect {
        assert_eq!(taps[*name].dims(), dims, "{name}");
    }
    // The alias is the last encoder level.
    let d = (&taps["layer4"] - &taps["down2"])
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap();
    assert_eq!(d.to_scalar::<f32>().unwrap(), 0.0);
    let (_, only) = unet.forward_with_taps(&x, &t, &c, &["layer4"]).unwrap();
    assert_eq!(only.keys().collect::<Vec<_>>(), ["layer4"]);
}

#[test]
fn paper_preset_shapes() {
    let dev = Device::Cpu;
    let unet = UNet::new(&UNetConfig::paper(), 1, &dev).unwrap();
    let (x, t, c) = inputs(1, 32, &dev);
    let (y, taps) = unet
        .forward_with_taps(&x, &t, &c, &["layer4", "down2", "bottleneck", "up0"])
        .unwrap();
    assert_eq!(y.dims(), [1, 1, 32, 32]);
    // Spec §3: layer 4 = output of down3 (+ attention), 256 × 4 × 4.
    assert_eq!(taps["layer4"].dims(), [1, 256, 4, 4]);
    assert_eq!(taps["down2"].dims(), [1, 256, 8, 8]);
    assert_eq!(taps["bottleneck"].dims(), [1, 256, 4, 4]);
    assert_eq!(taps["up0"].dims(), [1, 64, 32, 32]);
}

#[test]
fn bad_inputs_and_taps_are_errors() {
    let dev = Device::Cpu;
    let unet = UNet::new(&small(), 0, &dev).unwrap();
    let (x, t, c) = inputs(2, 32, &dev);
    let (x30, _, _) = inputs(2, 30, &dev);
    assert!(unet.forward(&x30, &t, &c).is_err()); // 30 is not divisible by 4
    assert!(unet.forward(&x, &t.narrow(0, 0, 1).unwrap(), &c).is_err());
    assert!(unet.forward(&x, &t, &c.narrow(1, 0, 1).unwrap()).is_err());
    match unet.forward_with_taps(&x, &t, &c, &["layer5"]) {
        Err(Error::UnknownTap { name, available }) => {
            assert_eq!(name, "layer5");
            assert!(available.contains(&"layer4".to_string()));
        }
        other => panic!("expected UnknownTap, got {other:?}"),
    }
    assert!(matches!(
        UNet::new(&small().with_norm_groups(3), 0, &dev),
        Err(Error::InvalidConfig(_))
    ));
}

/// Every parameter of every kind of block (attention in encoder, bottleneck and decoder,
/// the conditioning MLP, skip convs) gets a non-zero gradient from one loss.
#[test]
fn every_parameter_gets_a_nonzero_gradient() {
    let dev = Device::Cpu;
    let configs = [
        UNetConfig::tiny(),
        UNetConfig::paper(),
        small()
            .with_attention(vec![1, 2], 2)
            .with_mid_attention(true)
            .with_cond_mlp_width(Some(16)),
        small()
            .with_res_blocks(2)
            .with_condition(ConditionEncoding::RawScalars {
                time_scale: 1000.0,
                position_scale: 32.0,
            }),
        small().with_condition(ConditionEncoding::RandomFourier {
            dim: 8,
            scale: 4.0,
            seed: 5,
        }),
    ];
    for cfg in configs {
        let unet = UNet::new(&cfg, 7, &dev).unwrap();
        let (x, t, c) = inputs(2, 16, &dev);
        // A non-symmetric target so that no gradient vanishes by symmetry.
        let target = (&x * 0.5).unwrap();
        let loss = (unet.forward(&x, &t, &c).unwrap() - target)
            .unwrap()
            .sqr()
            .unwrap()
            .mean_all()
            .unwrap();
        let grads = loss.backward().unwrap();
        for (name, var) in unet.vars() {
            let g = grads
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("{name}: no gradient"));
            let norm = g
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(
                norm > 0.0 && norm.is_finite(),
                "{name}: gradient norm {norm} ({cfg:?})"
            );
        }
    }
}

#[test]
fn seeded_init_is_reproducible() {
    let dev = Device::Cpu;
    let a = UNet::new(&small(), 42, &dev).unwrap();
    let b = UNet::new(&small(), 42, &dev).unwrap();
    let c = UNet::new(&small(), 43, &dev).unwrap();
    let bytes = |u: &UNet| -> Vec<(String, Vec<u32>)> {
        u.vars()
            .into_iter()
            .map(|(k, v)| {
                let vals = v
                    .as_tensor()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                (k, vals.into_iter().map(f32::to_bits).collect())
            })
            .collect()
    };
    let (ba, bb, bc) = (bytes(&a), bytes(&b), bytes(&c));
    assert_eq!(ba, bb);
    let differing = ba.iter().zip(&bc).filter(|(x, y)| x.1 != y.1).count();
    // All parameters except GroupNorm's constant γ/β differ with the seed.
    let norms = ba.iter().filter(|(k, _)| k.contains("norm")).count();
    assert_eq!(differing, ba.len() - norms);
    // Vars are sorted by name and parameter_count sums them.
    let names: Vec<&String> = ba.iter().map(|(k, _)| k).collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]));
    let total: usize = ba.iter().map(|(_, v)| v.len()).sum();
    assert_eq!(a.parameter_count(), total);
    // And the predictions agree bit for bit.
    let (x, t, cc) = inputs(2, 32, &dev);
    let ya = a
        .forward(&x, &t, &cc)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let yb = b
        .forward(&x, &t, &cc)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(ya, yb);
}

/// Parameter counts computed by hand from the layer list in docs/unet.md.
#[test]
fn parameter_count_matches_closed_form() {
    let cfg = UNetConfig::tiny();
    let d = cfg.cond_dim();
    let conv = |ci: usize, co: usize, k: usize| co * ci * k * k + co;
    let norm = |c: usize| 2 * c;
    let res = |ci: usize, co: usize| {
        norm(ci)
            + conv(ci, co, 3)
            + (d * co + co)
            + norm(co)
            + conv(co, co, 3)
            + if ci != co { conv(ci, co, 1) } else { 0 }
    };
    let attn = |c: usize| norm(c) + conv(c, 3 * c, 1) + conv(c, c, 1);
    let expected = conv(1, 16, 3)
        + res(16, 16) // down0
        + conv(16, 16, 3) + res(16, 32) // down1
        + conv(32, 32, 3) + res(32, 32) + attn(32) // down2
        + 2 * res(32, 32) // mid
        + res(64, 32) + attn(32) + conv(32, 32, 3) // up2, upsample 32 → 32
        + res(64, 32) + conv(32, 16, 3) // up1, upsample 32 → 16
        + res(32, 16) // up0
        + norm(16) + conv(16, 1, 3);
    assert_eq!(
        UNet::new(&cfg, 0, &Device::Cpu).unwrap().parameter_count(),
        expected
    );
}

#[test]
fn load_weights_sets_and_validates() {
    let dev = Device::Cpu;
    let a = UNet::new(&small(), 1, &dev).unwrap();
    let b = UNet::new(&small(), 2, &dev).unwrap();
    let (x, t, c) = inputs(2, 16, &dev);
    let ya = a
        .forward(&x, &t, &c)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let wa = a.snapshot_weights().unwrap();
    b.load_weights(&wa).unwrap();
    let yb = b
        .forward(&x, &t, &c)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(ya, yb);

    let mut missing = wa.clone();
    missing.remove("stem.weight");
    assert!(
        matches!(b.load_weights(&missing), Err(Error::MissingTensor { name }) if name == "stem.weight")
    );
    let mut bad_shape: HashMap<String, Tensor> = wa.clone();
    bad_shape.insert(
        "stem.bias".into(),
        Tensor::zeros(3, DType::F32, &dev).unwrap(),
    );
    assert!(
        matches!(b.load_weights(&bad_shape), Err(Error::ShapeMismatch { name, .. }) if name == "stem.bias")
    );
    let mut unknown = wa.clone();
    unknown.insert("nope".into(), Tensor::zeros(3, DType::F32, &dev).unwrap());
    assert!(matches!(
        b.load_weights(&unknown),
        Err(Error::UnknownTensor { .. })
    ));
    // A failed load leaves the model unchanged.
    let yb2 = b
        .forward(&x, &t, &c)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(ya, yb2);
    // Snapshots are copies, not views of the live parameters.
    let (_, v) = &a.vars()[0];
    v.set(&v.as_tensor().zeros_like().unwrap()).unwrap();
    let s = wa[&a.vars()[0].0]
        .abs()
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(s > 0.0);
}

#[test]
fn dropout_is_seeded_and_off_in_eval() {
    let dev = Device::Cpu;
    let cfg = small().with_dropout(0.5);
    let (x, t, c) = inputs(2, 16, &dev);
    let run = |train: bool| -> Vec<Vec<f32>> {
        let u = UNet::new(&cfg, 3, &dev).unwrap();
        (0..2)
            .map(|_| {
                u.forward_t(&x, &t, &c, train)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
            })
            .collect()
    };
    let (tr1, tr2, ev) = (run(true), run(true), run(false));
    assert_eq!(tr1, tr2); // same seed, same call sequence → same masks
    assert_ne!(tr1[0], tr1[1]); // masks change between calls
    assert_eq!(ev[0], ev[1]);
    assert_ne!(ev[0], tr1[0]);
}

bump_unet::device_test!(forward_runs_on_every_compiled_device, |dev| {
    let unet = UNet::new(&small(), 0, dev)?;
    let (x, t, c) = inputs(2, 16, dev);
    let y = unet.forward(&x, &t, &c)?;
    assert_eq!(y.dims(), [2, 1, 16, 16]);
    assert!(y.device().same_device(dev));
    Ok(())
});

/// The model can be shared across threads (e.g. an evaluation thread next to training).
#[test]
fn unet_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<UNet>();
}

/// Two identical short AdamW runs from the same seed end in bit-identical weights (CPU), and
/// `try_clone` yields an independent model with the same weights.
#[test]
fn training_is_reproducible_and_clones_are_independent() {
    use candle_nn::{AdamW, Optimizer, ParamsAdamW};
    let dev = Device::Cpu;
    let train = || -> (UNet, Vec<(String, Vec<u32>)>) {
        let unet = UNet::new(&small(), 5, &dev).unwrap();
        let vars = unet.vars().into_iter().map(|(_, v)| v).collect();
        let mut opt = AdamW::new(
            vars,
            ParamsAdamW {
                lr: 1e-2,
                ..Default::default()
            },
        )
        .unwrap();
        let (x, t, c) = inputs(4, 16, &dev);
        for _ in 0..3 {
            let loss = (unet.forward_t(&x, &t, &c, true).unwrap() - &x)
                .unwrap()
                .sqr()
                .unwrap()
                .mean_all()
                .unwrap();
            opt.backward_step(&loss).unwrap();
        }
        let w = unet
            .vars()
            .into_iter()
            .map(|(k, v)| {
                (
                    k,
                    v.as_tensor()
                        .flatten_all()
                        .unwrap()
                        .to_vec1::<f32>()
                        .unwrap()
                        .into_iter()
                        .map(f32::to_bits)
                        .collect(),
                )
            })
            .collect();
        (unet, w)
    };
    let (a, wa) = train();
    let (_, wb) = train();
    // Same seed → same bytes on the CPU (project rule). This also holds every gradient
    // reduction in `ops` to a fixed summation order, whatever the thread scheduling.
    let differing: Vec<&String> = wa
        .iter()
        .zip(&wb)
        .filter(|(x, y)| x.1 != y.1)
        .map(|(x, _)| &x.0)
        .collect();
    assert!(
        differing.is_empty(),
        "not bit-reproducible: {} parameters differ, e.g. {:?}",
        differing.len(),
        &differing[..differing.len().min(5)]
    );
    let fresh = UNet::new(&small(), 5, &dev).unwrap();
    let stem0 = fresh.vars()[0]
        .1
        .as_tensor()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_ne!(
        stem0.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        wa[0].1,
        "training changed nothing"
    );

    let b = a.try_clone().unwrap();
    let (x, t, c) = inputs(2, 16, &dev);
    let out = |u: &UNet| {
        u.forward(&x, &t, &c)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    assert_eq!(out(&a), out(&b));
    for (_, v) in b.vars() {
        v.set(&v.as_tensor().zeros_like().unwrap()).unwrap();
    }
    assert_ne!(out(&a), out(&b));
}

#[test]
fn activations_stop_early_and_match_the_full_pass_bit_for_bit() {
    let dev = candle_core::Device::Cpu;
    let cfg = bump_unet::UNetConfig::tiny();
    let net = bump_unet::UNet::new(&cfg, 3, &dev).unwrap();
    let x = candle_core::Tensor::randn(0f32, 1.0, (3, 1, 16, 16), &dev).unwrap();
    let t = candle_core::Tensor::new(&[5f32, 500.0, 999.0], &dev).unwrap();
    let c = candle_core::Tensor::new(&[[1f32, 2.0], [3.0, 4.0], [8.0, 9.0]], &dev).unwrap();
    let names = ["layer4", "down0", "bottleneck"];
    let (_, full) = net.forward_with_taps(&x, &t, &c, &names).unwrap();
    for subset in [&names[..1], &names[..2], &names[..]] {
        let early = net.activations(&x, &t, &c, subset).unwrap();
        assert_eq!(early.len(), subset.len());
        for name in subset {
            let a: Vec<f32> = early[*name].flatten_all().unwrap().to_vec1().unwrap();
            let b: Vec<f32> = full[*name].flatten_all().unwrap().to_vec1().unwrap();
            assert!(
                a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()),
                "{name}"
            );
        }
    }
    assert!(net.activations(&x, &t, &c, &["nope"]).is_err());
}
