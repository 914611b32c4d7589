//! `UNetConfig::forward_flops` against the FLOPs the conv kernels count during a real forward
//! pass. One test in its own binary: the counter is process-wide.

use bump_unet::{ops, UNet, UNetConfig};
use candle_core::{Device, Tensor};

/// QKᵀ and AV, 2·N²·C FLOPs each, per attention block (the part the conv counter cannot see).
fn attention_matmul_flops(cfg: &UNetConfig, h: usize, w: usize) -> u64 {
    let per = |l: usize| {
        let n = ((h >> l) * (w >> l)) as u64;
        4 * n * n * cfg.level_channels(l) as u64
    };
    let levels: u64 = cfg.attention_levels.iter().map(|&l| 2 * per(l)).sum();
    levels
        + if cfg.mid_attention {
            per(cfg.levels() - 1)
        } else {
            0
        }
}

#[test]
fn forward_flops_match_the_counted_convolutions() {
    let dev = Device::Cpu;
    let features = UNetConfig::tiny()
        .with_widths(8, vec![1, 2, 3])
        .with_res_blocks(2)
        .with_attention(vec![1, 2], 2)
        .with_mid_attention(true)
        .with_norm_groups(4)
        .with_channels(2, 3);
    for (name, cfg, side) in [
        ("tiny", UNetConfig::tiny(), 32),
        ("paper", UNetConfig::paper(), 16),
        ("features", features, 24),
    ] {
        let unet = UNet::new(&cfg, 0, &dev).unwrap();
        let x = Tensor::zeros(
            (1, cfg.in_channels, side, side),
            candle_core::DType::F32,
            &dev,
        )
        .unwrap();
        let t = Tensor::new(&[10f32], &dev).unwrap();
        let c = Tensor::new(&[[3f32, 4.0]], &dev).unwrap();
        ops::reset_conv_flops();
        unet.forward(&x, &t, &c).unwrap();
        let counted = ops::conv_flops() + attention_matmul_flops(&cfg, side, side);
        assert_eq!(cfg.forward_flops(side, side), counted, "{name}");
    }
    // Published figures (docs/performance.md): 32×32 forward per image.
    let g = |c: UNetConfig| c.forward_flops(32, 32) as f64 * 1e-9;
    assert!(
        (g(UNetConfig::tiny()) - 0.077).abs() < 0.0005,
        "{}",
        g(UNetConfig::tiny())
    );
    assert!(
        (g(UNetConfig::paper()) - 2.935).abs() < 0.0005,
        "{}",
        g(UNetConfig::paper())
    );
}
