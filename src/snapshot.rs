//! The pictures' data of one evaluated checkpoint (`snapshots/step_NNNNNNNN.json`): written by
//! evaluation, read by the report.

use serde::{Deserialize, Serialize};

/// Generated images and layer-4 embeddings of one checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Training step of the checkpoint.
    pub step: u64,
    /// Canvas side N.
    pub n: usize,
    /// Model value range `(lo, hi)`; used to map pixels to grey levels.
    pub range: (f32, f32),
    /// True centres of the evaluated conditions (for the embeddings' colours).
    pub coords: Vec<[f64; 2]>,
    /// 2D PCA projection of layer 4.
    pub pca: Vec<[f64; 2]>,
    /// 2D Isomap embedding of layer 4 (`None` if it could not be computed).
    pub isomap: Option<Vec<[f64; 2]>>,
    /// 3D UMAP embedding of layer 4 (the paper's protocol; absent in older snapshots).
    #[serde(default)]
    pub umap: Option<Vec<[f64; 3]>>,
    /// Up to [`Snapshot::MAX_IMAGES`] generated images, row-major, `count × n × n`, model range.
    pub samples: Vec<f32>,
}

impl Snapshot {
    /// Most images a snapshot keeps (the report shows an 8 × 8 grid).
    pub const MAX_IMAGES: usize = 64;

    /// Number of images held.
    pub fn image_count(&self) -> usize {
        self.samples.len() / (self.n * self.n).max(1)
    }
}
