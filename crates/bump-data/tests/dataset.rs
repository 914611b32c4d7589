//! Datasets: rendering, batches, safetensors round trips, determinism, bad files.

use std::collections::HashSet;

use bump_data::{
    subsample, Batches, Dataset, Error, ExtendedCanvas, GridSpec, Pattern, RenderConfig,
};

fn small() -> Dataset {
    let centres = GridSpec::square(8, 1.0).centres().unwrap();
    Dataset::render(&RenderConfig::default().with_n(8), &centres).unwrap()
}

#[test]
fn render_stores_images_and_labels() {
    let ds = small();
    assert_eq!((ds.len(), ds.n(), ds.image_size()), (64, 8, 64));
    assert_eq!(ds.images().len(), 64 * 64);
    assert!(!ds.is_empty());
    // Image 8*3 + 5 is the bump at x = 5, y = 3: darkest pixel at row 3, column 5.
    let img = ds.image(3 * 8 + 5).unwrap();
    let argmin = (0..64).min_by(|&a, &b| img[a].total_cmp(&img[b])).unwrap();
    assert_eq!(argmin, 3 * 8 + 5);
    assert_eq!(ds.labels()[3 * 8 + 5], [5.0, 3.0]);
    assert!(ds.image(64).is_none());
    assert!(ds.image(usize::MAX).is_none());
}

#[test]
fn gather_copies_the_requested_images() {
    let ds = small();
    let (mut imgs, mut labs) = (Vec::new(), Vec::new());
    ds.gather(&[7, 0, 7], &mut imgs, &mut labs).unwrap();
    assert_eq!(imgs.len(), 3 * 64);
    assert_eq!(&imgs[..64], ds.image(7).unwrap());
    assert_eq!(&imgs[64..128], ds.image(0).unwrap());
    assert_eq!(labs, [7.0, 0.0, 0.0, 0.0, 7.0, 0.0]);
    assert!(matches!(
        ds.gather(&[64], &mut imgs, &mut labs),
        Err(Error::IndexOutOfRange { index: 64, len: 64 })
    ));
}

#[test]
fn batches_are_seeded_permutations() {
    let b = Batches::new(100, 32, 5).unwrap();
    assert_eq!(b.batches_per_epoch(), 4);
    let e0: Vec<Vec<usize>> = b.epoch(0).collect();
    assert_eq!(e0.iter().map(Vec::len).collect::<Vec<_>>(), [32, 32, 32, 4]);
    let all: HashSet<usize> = e0.iter().flatten().copied().collect();
    assert_eq!(all, (0..100).collect());
    assert_eq!(e0, b.epoch(0).collect::<Vec<_>>());
    assert_ne!(b.permutation(0), b.permutation(1));
    assert_ne!(
        b.permutation(0),
        Batches::new(100, 32, 6).unwrap().permutation(0)
    );
    assert_ne!(b.permutation(0), (0..100).collect::<Vec<_>>());
    let d = b.with_drop_last(true);
    assert_eq!(d.batches_per_epoch(), 3);
    assert_eq!(d.epoch(3).count(), 3);
    assert!(Batches::new(0, 4, 1).is_err());
    assert!(Batches::new(4, 0, 1).is_err());
}

#[test]
fn save_load_round_trip() {
    let dir = std::env::temp_dir().join(format!("bump-data-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ds.safetensors");
    let cfg = RenderConfig::default().with_n(12).with_sigma_xy(0.7, 1.3);
    let canvas = ExtendedCanvas::new(16, 12).unwrap();
    let a = Dataset::render_with(
        &cfg,
        Pattern::SumOfStripes,
        Some(canvas),
        &[[1.5, 9.0], [14.0, 3.25]],
    )
    .unwrap();
    let b =
        Dataset::render_with(&cfg, Pattern::VerticalStripe, Some(canvas), &[[8.0, 0.0]]).unwrap();
    let ds = Dataset::concat(&[a, b])
        .unwrap()
        .with_description("sos + stripe");
    ds.save(&path).unwrap();
    let back = Dataset::load(&path).unwrap();
    assert_eq!(back, ds);
    assert_eq!(back.spec().description, "sos + stripe");
    assert_eq!(
        back.patterns(),
        [
            Pattern::SumOfStripes,
            Pattern::SumOfStripes,
            Pattern::VerticalStripe
        ]
    );
    // Labels stay latent; image centres use the offset (16 − 12)/2 = 2.
    assert_eq!(back.labels()[1], [14.0, 3.25]);
    assert_eq!(back.image_centres()[1], [12.0, 1.25]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_or_truncated_files_are_errors() {
    let bytes = small().to_bytes().unwrap();
    for cut in [0, 4, 8, 20, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            matches!(
                Dataset::from_bytes(&bytes[..cut]),
                Err(Error::InvalidFile(_))
            ),
            "truncated at {cut}"
        );
    }
    // Garbage header length.
    let mut bad = bytes.clone();
    bad[0] = 0xff;
    bad[5] = 0x7f;
    assert!(matches!(
        Dataset::from_bytes(&bad),
        Err(Error::InvalidFile(_))
    ));
    // Corrupt spec JSON inside an otherwise valid header: flip a byte of "render".
    let mut bad = bytes.clone();
    let pos = bytes.windows(6).position(|w| w == b"render").unwrap();
    bad[pos] = b'X';
    assert!(matches!(
        Dataset::from_bytes(&bad),
        Err(Error::InvalidFile(_))
    ));
    assert!(matches!(
        Dataset::load("/nonexistent/x.safetensors"),
        Err(Error::Io(_))
    ));
}

#[test]
fn same_seed_same_bytes() {
    let make = |seed| {
        let all = GridSpec::new(16, 0.5, 1.0).centres().unwrap();
        let keep = subsample(&all, 0.25, seed).unwrap();
        let ds = Dataset::render(&RenderConfig::default().with_n(16), &keep).unwrap();
        let order: Vec<usize> = Batches::new(ds.len(), 7, seed)
            .unwrap()
            .epoch(2)
            .flatten()
            .collect();
        let (mut imgs, mut labs) = (Vec::new(), Vec::new());
        ds.gather(&order, &mut imgs, &mut labs).unwrap();
        (ds.to_bytes().unwrap(), imgs, labs)
    };
    let a = make(42);
    assert_eq!(a, make(42));
    assert_ne!(a.0, make(43).0);
}

#[test]
fn bad_dataset_input_is_a_typed_error() {
    let cfg = RenderConfig::default();
    assert!(matches!(
        Dataset::render(&cfg, &[[1.0, f64::NAN]]),
        Err(Error::NonFiniteCentre { .. })
    ));
    assert!(matches!(
        Dataset::render(&cfg.with_sigma(0.0), &[[1.0, 1.0]]),
        Err(Error::InvalidSigma(_))
    ));
    assert!(matches!(
        Dataset::render(&cfg.with_n(0), &[[1.0, 1.0]]),
        Err(Error::ZeroSize)
    ));
    let canvas = ExtendedCanvas::new(44, 32).unwrap();
    assert!(Dataset::render_with(
        &cfg.with_periodic(true),
        Pattern::Bump,
        Some(canvas),
        &[[1.0, 1.0]]
    )
    .is_err());
    assert!(
        Dataset::render_with(&cfg.with_n(30), Pattern::Bump, Some(canvas), &[[1.0, 1.0]]).is_err()
    );
    let other = Dataset::render(&cfg.with_sigma(2.0), &[[1.0, 1.0]]).unwrap();
    let one = Dataset::render(&cfg, &[[1.0, 1.0]]).unwrap();
    assert!(Dataset::concat(&[one, other]).is_err());
    assert!(Dataset::concat(&[]).is_err());
}

#[test]
fn extended_canvas_shows_0_1_2_stripes() {
    let cfg = RenderConfig::default();
    let canvas = ExtendedCanvas::default(); // 44 → 32, offset 6
    let ds = Dataset::render_with(
        &cfg,
        Pattern::SumOfStripes,
        Some(canvas),
        &[[20.0, 20.0], [20.0, 0.0], [0.0, 43.0]],
    )
    .unwrap();
    let dark = |i: usize| {
        ds.image(i)
            .unwrap()
            .iter()
            .cloned()
            .fold(f32::INFINITY, f32::min)
    };
    assert_eq!(dark(0), -1.0); // both stripes cross in the frame
    assert!((dark(1) - 0.0).abs() < 1e-6); // only the vertical stripe (half amplitude)
    assert!(dark(2) > 0.99); // neither stripe visible (latent 0 → image −6, 43 → 37)
                             // Vertical stripe of image 1 sits at image column 14.
    let img = ds.image(1).unwrap();
    assert!((img[5 * 32 + 14] - 0.0).abs() < 1e-6);
}
