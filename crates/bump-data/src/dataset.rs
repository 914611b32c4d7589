//! Rendered datasets: plain `f32` image buffers plus labels, with safetensors I/O.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use crate::error::{check_centres, Error, Result};
use crate::render::{render_unchecked, ExtendedCanvas, Pattern, RenderConfig};

/// Format tag stored in every file header ([`FileHeader::format`]).
pub const FILE_FORMAT: &str = "bump-data/1";

/// Metadata key holding the JSON [`FileHeader`] in dataset files.
pub const METADATA_KEY: &str = "bump_data";

/// JSON stored under [`METADATA_KEY`]: the file format tag and the dataset spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileHeader {
    /// Always [`FILE_FORMAT`].
    pub format: String,
    /// How the dataset was rendered.
    pub spec: DatasetSpec,
}

/// How a dataset was rendered; stored in dataset files as JSON metadata (see [`FileHeader`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSpec {
    /// Render settings shared by every image.
    pub render: RenderConfig,
    /// Extended latent canvas, when labels live on an M×M latent square and images are the
    /// central N×N crop. `None`: labels are image pixel coordinates.
    pub canvas: Option<ExtendedCanvas>,
    /// Free-form description (e.g. the grid or split that produced the centres).
    pub description: String,
}

impl DatasetSpec {
    /// Checks the render config and canvas (canvas N must equal render N; no periodic crop).
    pub fn validate(&self) -> Result<()> {
        self.render.validate()?;
        if let Some(c) = &self.canvas {
            c.validate()?;
            if c.visible != self.render.n {
                return Err(Error::InvalidArgument(format!(
                    "extended canvas visible size {} differs from render N {}",
                    c.visible, self.render.n
                )));
            }
            if self.render.periodic {
                return Err(Error::InvalidArgument(
                    "a periodic boundary cannot be combined with an extended canvas".into(),
                ));
            }
        }
        Ok(())
    }

    /// Label (latent or image units) → image pixel coordinates.
    pub fn label_to_image(&self, label: [f64; 2]) -> [f64; 2] {
        match &self.canvas {
            Some(c) => c.latent_to_image(label),
            None => label,
        }
    }
}

/// A rendered dataset: `len` images of N×N `f32` (row-major, contiguous), one label
/// `[μx, μy]` (pixel units; latent units with an extended canvas) and one [`Pattern`] per image.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    spec: DatasetSpec,
    images: Vec<f32>,
    labels: Vec<[f32; 2]>,
    patterns: Vec<Pattern>,
}

impl Dataset {
    /// Renders one 2D bump per centre (image pixel units).
    pub fn render(cfg: &RenderConfig, centres: &[[f64; 2]]) -> Result<Self> {
        Self::render_with(cfg, Pattern::Bump, None, centres)
    }

    /// Renders `pattern` at each centre. With a `canvas`, centres are latent labels and each
    /// image is the central N×N crop (`image coordinate = label − (M − N)/2`).
    ///
    /// # Shapes
    /// images `[len, N, N]`, labels `[len, 2]`.
    pub fn render_with(
        cfg: &RenderConfig,
        pattern: Pattern,
        canvas: Option<ExtendedCanvas>,
        centres: &[[f64; 2]],
    ) -> Result<Self> {
        let spec = DatasetSpec {
            render: *cfg,
            canvas,
            description: String::new(),
        };
        spec.validate()?;
        check_centres(centres)?;
        let n = cfg.n;
        let px = cfg.pixels();
        let mut images = vec![0.0f32; centres.len() * px];
        let mut gx = vec![0.0; n];
        let mut gy = vec![0.0; n];
        for (c, out) in centres.iter().zip(images.chunks_exact_mut(px)) {
            render_unchecked(cfg, pattern, spec.label_to_image(*c), &mut gx, &mut gy, out);
        }
        Ok(Self {
            spec,
            images,
            labels: centres.iter().map(|c| [c[0] as f32, c[1] as f32]).collect(),
            patterns: vec![pattern; centres.len()],
        })
    }

    /// Builds a dataset from parts, checking every length and value.
    pub fn from_parts(
        spec: DatasetSpec,
        images: Vec<f32>,
        labels: Vec<[f32; 2]>,
        patterns: Vec<Pattern>,
    ) -> Result<Self> {
        spec.validate()?;
        let px = spec.render.pixels();
        if images.len() != labels.len() * px || patterns.len() != labels.len() {
            return Err(Error::ShapeMismatch(format!(
                "{} image values, {} labels, {} patterns for N = {}",
                images.len(),
                labels.len(),
                patterns.len(),
                spec.render.n
            )));
        }
        if let Some(index) = labels
            .iter()
            .position(|l| !(l[0].is_finite() && l[1].is_finite()))
        {
            return Err(Error::NonFiniteCentre {
                index,
                x: labels[index][0] as f64,
                y: labels[index][1] as f64,
            });
        }
        Ok(Self {
            spec,
            images,
            labels,
            patterns,
        })
    }

    /// Sets the free-form description stored in the spec.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.spec.description = description.into();
        self
    }

    /// Concatenates datasets with the same render config and canvas (e.g. bumps + stripes).
    pub fn concat(parts: &[Dataset]) -> Result<Self> {
        let first = parts
            .first()
            .ok_or_else(|| Error::InvalidArgument("concat needs at least one dataset".into()))?;
        let mut out = first.clone();
        for p in &parts[1..] {
            if p.spec.render != first.spec.render || p.spec.canvas != first.spec.canvas {
                return Err(Error::InvalidArgument(
                    "concat needs equal render configs and canvases".into(),
                ));
            }
            out.images.extend_from_slice(&p.images);
            out.labels.extend_from_slice(&p.labels);
            out.patterns.extend_from_slice(&p.patterns);
        }
        Ok(out)
    }

    /// A new dataset holding the given images, in the given order.
    pub fn subset(&self, indices: &[usize]) -> Result<Self> {
        let mut images = Vec::new();
        let mut labels = Vec::new();
        self.gather(indices, &mut images, &mut labels)?;
        Ok(Self {
            spec: self.spec.clone(),
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            patterns: indices.iter().map(|&i| self.patterns[i]).collect(),
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// Image side N.
    pub fn n(&self) -> usize {
        self.spec.render.n
    }
    /// Values per image, N².
    pub fn image_size(&self) -> usize {
        self.spec.render.pixels()
    }
    /// The spec.
    pub fn spec(&self) -> &DatasetSpec {
        &self.spec
    }
    /// Image `i` (N² values, row-major), or `None` when out of range.
    pub fn image(&self, i: usize) -> Option<&[f32]> {
        let px = self.image_size();
        let start = i.checked_mul(px)?;
        self.images.get(start..start.checked_add(px)?)
    }
    /// All images, contiguous.
    ///
    /// # Shapes
    /// `[len, N, N]` row-major.
    pub fn images(&self) -> &[f32] {
        &self.images
    }
    /// Labels `[μx, μy]` (pixel units; latent units with an extended canvas).
    pub fn labels(&self) -> &[[f32; 2]] {
        &self.labels
    }
    /// Pattern of each image.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }
    /// Labels mapped to image pixel coordinates (what the scorer expects as targets).
    pub fn image_centres(&self) -> Vec<[f32; 2]> {
        self.labels
            .iter()
            .map(|l| {
                let c = self.spec.label_to_image([l[0] as f64, l[1] as f64]);
                [c[0] as f32, c[1] as f32]
            })
            .collect()
    }

    /// Copies the images and labels at `indices` into `images` (`[b, N, N]`) and `labels`
    /// (`[b, 2]` flattened), clearing both first. Reuse the buffers across batches.
    pub fn gather(
        &self,
        indices: &[usize],
        images: &mut Vec<f32>,
        labels: &mut Vec<f32>,
    ) -> Result<()> {
        let len = self.len();
        if let Some(&index) = indices.iter().find(|&&i| i >= len) {
            return Err(Error::IndexOutOfRange { index, len });
        }
        let px = self.image_size();
        images.clear();
        labels.clear();
        images.reserve(indices.len() * px);
        labels.reserve(indices.len() * 2);
        for &i in indices {
            images.extend_from_slice(&self.images[i * px..(i + 1) * px]);
            labels.extend_from_slice(&self.labels[i]);
        }
        Ok(())
    }

    /// Serializes to safetensors bytes: `images` F32 `[len, N, N]`, `labels` F32 `[len, 2]`,
    /// `patterns` U8 `[len]`; metadata key [`METADATA_KEY`] = JSON [`FileHeader`] (format tag + spec).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let n = self.n();
        let len = self.len();
        let img: Vec<u8> = self.images.iter().flat_map(|v| v.to_le_bytes()).collect();
        let lab: Vec<u8> = self
            .labels
            .iter()
            .flatten()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let pat: Vec<u8> = self.patterns.iter().map(|p| p.code()).collect();
        let file_err = |e: safetensors::SafeTensorError| Error::InvalidFile(e.to_string());
        let tensors = vec![
            (
                "images",
                TensorView::new(Dtype::F32, vec![len, n, n], &img).map_err(file_err)?,
            ),
            (
                "labels",
                TensorView::new(Dtype::F32, vec![len, 2], &lab).map_err(file_err)?,
            ),
            (
                "patterns",
                TensorView::new(Dtype::U8, vec![len], &pat).map_err(file_err)?,
            ),
        ];
        // One metadata key only: safetensors writes metadata from a HashMap, so several keys
        // would come out in a random order and break byte-identical files.
        let header = serde_json::to_string(&FileHeader {
            format: FILE_FORMAT.to_string(),
            spec: self.spec.clone(),
        })
        .map_err(|e| Error::InvalidArgument(format!("spec not serializable: {e}")))?;
        let meta = HashMap::from([(METADATA_KEY.to_string(), header)]);
        safetensors::serialize(tensors, Some(meta)).map_err(file_err)
    }

    /// Parses safetensors bytes written by [`Dataset::to_bytes`]. Corrupt, truncated or
    /// inconsistent input gives [`Error::InvalidFile`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bad = |m: String| Error::InvalidFile(m);
        let st = SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
        let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
        let meta = meta
            .metadata()
            .as_ref()
            .ok_or_else(|| bad("no metadata".into()))?;
        let header: FileHeader = serde_json::from_str(
            meta.get(METADATA_KEY)
                .ok_or_else(|| bad(format!("no `{METADATA_KEY}` metadata")))?,
        )
        .map_err(|e| bad(format!("metadata JSON: {e}")))?;
        if header.format != FILE_FORMAT {
            return Err(bad(format!(
                "format is {}, expected {FILE_FORMAT}",
                header.format
            )));
        }
        let spec = header.spec;
        spec.validate().map_err(|e| bad(format!("spec: {e}")))?;
        let n = spec.render.n;
        let get = |name: &str, dtype: Dtype| -> Result<TensorView<'_>> {
            let t = st.tensor(name).map_err(|e| bad(format!("{name}: {e}")))?;
            if t.dtype() != dtype {
                return Err(bad(format!(
                    "{name} has dtype {:?}, expected {dtype:?}",
                    t.dtype()
                )));
            }
            Ok(t)
        };
        let img = get("images", Dtype::F32)?;
        let lab = get("labels", Dtype::F32)?;
        let pat = get("patterns", Dtype::U8)?;
        let len = pat.shape().first().copied().unwrap_or(0);
        if pat.shape() != [len] || img.shape() != [len, n, n] || lab.shape() != [len, 2] {
            return Err(bad(format!(
                "shapes images {:?}, labels {:?}, patterns {:?} disagree with N = {n}",
                img.shape(),
                lab.shape(),
                pat.shape()
            )));
        }
        let f32s = |d: &[u8]| -> Vec<f32> {
            d.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        };
        let images = f32s(img.data());
        let labels = f32s(lab.data())
            .chunks_exact(2)
            .map(|c| [c[0], c[1]])
            .collect();
        let patterns = pat
            .data()
            .iter()
            .map(|&c| Pattern::from_code(c))
            .collect::<Result<Vec<_>>>()
            .map_err(|e| bad(e.to_string()))?;
        Self::from_parts(spec, images, labels, patterns).map_err(|e| bad(e.to_string()))
    }

    /// Writes the dataset to a safetensors file (see [`Dataset::to_bytes`]).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        std::fs::write(path, self.to_bytes()?)?;
        Ok(())
    }

    /// Reads a dataset file written by [`Dataset::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_bytes(&std::fs::read(path)?)
    }
}
