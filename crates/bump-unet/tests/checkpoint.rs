//! Checkpoint round trip and the typed error of each corruption case.

use bump_unet::checkpoint::{read_safetensors, FORMAT_NAME};
use bump_unet::{
    load_checkpoint, save_checkpoint, write_safetensors_atomic, CheckpointMeta, Error, UNet,
    UNetConfig, SCHEMA_VERSION,
};
use candle_core::{Device, Tensor};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn tmp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("bump-unet-ckpt-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn cfg() -> UNetConfig {
    UNetConfig::tiny().with_widths(8, vec![1, 2, 2])
}

fn predict(u: &UNet) -> Vec<u32> {
    let dev = Device::Cpu;
    let x = Tensor::from_vec(
        (0..2 * 256)
            .map(|i| (i % 17) as f32 / 8.0 - 1.0)
            .collect::<Vec<f32>>(),
        (2, 1, 16, 16),
        &dev,
    )
    .unwrap();
    let t = Tensor::new(&[3f32, 917.0], &dev).unwrap();
    let c = Tensor::new(&[[4.5f32, 20.0], [31.0, 0.1]], &dev).unwrap();
    let y = u
        .forward(&x, &t, &c)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    y.into_iter().map(f32::to_bits).collect()
}

/// Saves a model (after changing its weights away from the seeded init, so the load cannot
/// pass by re-initialising) with metadata and extras.
fn saved(dir: &std::path::Path) -> (PathBuf, UNet, CheckpointMeta) {
    let dev = Device::Cpu;
    let unet = UNet::new(&cfg(), 11, &dev).unwrap();
    for (_, v) in unet.vars() {
        v.set(&(v.as_tensor() * 1.5).unwrap().affine(1.0, 0.01).unwrap())
            .unwrap();
    }
    let meta = CheckpointMeta {
        step: 1234,
        seed: 11,
        extra: BTreeMap::from([("phase".to_string(), "B".to_string())]),
    };
    let extras = vec![
        (
            "ema.stem.weight".to_string(),
            Tensor::ones((8, 1, 3, 3), candle_core::DType::F32, &dev).unwrap(),
        ),
        ("adam.step".to_string(), Tensor::new(&[7u32], &dev).unwrap()),
    ];
    let path = dir.join("model.safetensors");
    save_checkpoint(&path, &unet, &meta, &extras).unwrap();
    (path, unet, meta)
}

#[test]
fn round_trip_gives_bit_identical_predictions() {
    let dir = tmp_dir("rt");
    let (path, unet, meta) = saved(&dir);
    let (loaded, meta2, extras) = load_checkpoint(&path, &Device::Cpu).unwrap();
    assert_eq!(meta2, meta);
    assert_eq!(loaded.config(), unet.config());
    assert_eq!(predict(&loaded), predict(&unet));
    assert_eq!(extras.len(), 2);
    assert_eq!(extras["adam.step"].to_vec1::<u32>().unwrap(), [7]);
    assert_eq!(extras["ema.stem.weight"].dims(), [8, 1, 3, 3]);
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn extra_tensor_shadowing_a_parameter_is_rejected() {
    let dir = tmp_dir("dup");
    let unet = UNet::new(&cfg(), 0, &Device::Cpu).unwrap();
    let shadow = vec![(
        "stem.bias".to_string(),
        Tensor::zeros(8, candle_core::DType::F32, &Device::Cpu).unwrap(),
    )];
    let r = save_checkpoint(
        &dir.join("x.safetensors"),
        &unet,
        &CheckpointMeta::default(),
        &shadow,
    );
    assert!(matches!(r, Err(Error::DuplicateTensor { name }) if name == "stem.bias"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn truncated_file_is_its_own_error() {
    let dir = tmp_dir("trunc");
    let (path, _, _) = saved(&dir);
    let bytes = std::fs::read(&path).unwrap();
    // Cut in the data, in the header, and inside the 8-byte length prefix.
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for cut in [
        bytes.len() - 1,
        bytes.len() / 2 + header_len / 2,
        8 + header_len / 2,
        5,
    ] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let r = load_checkpoint(&path, &Device::Cpu);
        assert!(
            matches!(r, Err(Error::TruncatedFile { .. })),
            "cut at {cut}: {r:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_header_is_its_own_error() {
    let dir = tmp_dir("corrupt");
    let (path, _, _) = saved(&dir);
    let bytes = std::fs::read(&path).unwrap();
    // Overwrite the opening brace of the JSON header.
    let mut b = bytes.clone();
    b[8] = b'#';
    std::fs::write(&path, &b).unwrap();
    let r = load_checkpoint(&path, &Device::Cpu);
    assert!(matches!(r, Err(Error::CorruptHeader { .. })), "{r:?}");
    // An absurd header length.
    let mut b = bytes.clone();
    b[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(&path, &b).unwrap();
    let r = load_checkpoint(&path, &Device::Cpu);
    assert!(matches!(r, Err(Error::CorruptHeader { .. })), "{r:?}");
    // Valid safetensors, but the config JSON is broken.
    std::fs::write(&path, &bytes).unwrap();
    let (tensors, mut md) = read_safetensors(&path, &Device::Cpu).unwrap();
    md.insert("config".into(), "{not json".into());
    let tensors: Vec<(String, Tensor)> = tensors.into_iter().collect();
    write_safetensors_atomic(&path, &tensors, &md).unwrap();
    let r = load_checkpoint(&path, &Device::Cpu);
    assert!(
        matches!(r, Err(Error::CorruptHeader { ref detail, .. }) if detail.contains("config")),
        "{r:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Rewrites the saved checkpoint with `edit` applied to its tensors and metadata.
fn rewrite(
    path: &std::path::Path,
    edit: impl FnOnce(&mut BTreeMap<String, Tensor>, &mut BTreeMap<String, String>),
) {
    let (mut tensors, mut md) = read_safetensors(path, &Device::Cpu).unwrap();
    edit(&mut tensors, &mut md);
    let tensors: Vec<(String, Tensor)> = tensors.into_iter().collect();
    write_safetensors_atomic(path, &tensors, &md).unwrap();
}

#[test]
fn missing_tensor_is_its_own_error() {
    let dir = tmp_dir("missing");
    let (path, _, _) = saved(&dir);
    rewrite(&path, |t, _| {
        t.remove("down.1.res.0.conv2.weight");
    });
    let r = load_checkpoint(&path, &Device::Cpu);
    assert!(
        matches!(r, Err(Error::MissingTensor { ref name }) if name == "down.1.res.0.conv2.weight"),
        "{r:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shape_mismatch_is_its_own_error() {
    let dir = tmp_dir("shape");
    let (path, _, _) = saved(&dir);
    // A config that disagrees with the stored tensors (wider base) ...
    rewrite(&path, |_, md| {
        let c = UNetConfig::tiny().with_widths(16, vec![1, 2, 2]);
        md.insert("config".into(), serde_json::to_string(&c).unwrap());
    });
    let r = load_checkpoint(&path, &Device::Cpu);
    assert!(matches!(r, Err(Error::ShapeMismatch { .. })), "{r:?}");
    // ... and a single reshaped tensor.
    let (path, _, _) = saved(&dir);
    rewrite(&path, |t, _| {
        let w = t["stem.weight"].reshape((8, 9)).unwrap();
        t.insert("stem.weight".into(), w);
    });
    match load_checkpoint(&path, &Device::Cpu) {
        Err(Error::ShapeMismatch {
            name,
            expected,
            found,
        }) => {
            assert_eq!(name, "stem.weight");
            assert_eq!(expected, [8, 1, 3, 3]);
            assert_eq!(found, [8, 9]);
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn newer_schema_is_its_own_error() {
    let dir = tmp_dir("schema");
    let (path, _, _) = saved(&dir);
    rewrite(&path, |_, md| {
        assert_eq!(md["format"], FORMAT_NAME);
        md.insert("schema_version".into(), (SCHEMA_VERSION + 1).to_string());
    });
    let r = load_checkpoint(&path, &Device::Cpu);
    assert!(
        matches!(r, Err(Error::NewerSchema { found, supported }) if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{r:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_file_is_an_io_error() {
    let r = load_checkpoint(
        std::path::Path::new("/nonexistent/bump-unet.safetensors"),
        &Device::Cpu,
    );
    assert!(matches!(r, Err(Error::Io { .. })), "{r:?}");
}
