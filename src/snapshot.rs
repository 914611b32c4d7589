//! The pictures' data of one evaluated checkpoint (`snapshots/step_NNNNNNNN.json`): written by
//! evaluation, read by the report.
//!
//! The file is the snapshot's JSON object with a checksum as its first member:
//! `{"checksum":"xxh3-64:<16 hex>",<the other members>}`. The checksum is
//! [`bump_unet::checkpoint::digest_bytes`] of the object without it (`{<the other members>}`,
//! exactly as written), so readers that ignore the member still read the file, and the check is
//! on bytes, not on re-serialised floats.

use crate::{Error, Result};
use bump_unet::Integrity;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The start of a snapshot file with a checksum.
const CHECKSUM_PREFIX: &str = "{\"checksum\":\"";

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

    /// The file's text: the JSON object with its checksum as first member.
    pub fn to_json_with_checksum(&self) -> Result<String> {
        let body = serde_json::to_string(self)?;
        let digest = bump_unet::checkpoint::digest_bytes(body.as_bytes());
        let rest = body.strip_prefix('{').unwrap_or(&body);
        let sep = if rest == "}" { "" } else { "," };
        Ok(format!("{CHECKSUM_PREFIX}{digest}\"{sep}{rest}"))
    }

    /// Reads a snapshot file's bytes, verifying its checksum: [`Error::ChecksumMismatch`] when
    /// the content does not match, [`Error::Parse`] when it is not a snapshot (or its checksum
    /// member is damaged). A file without a checksum (written before checksums) reads as
    /// [`Integrity::Unchecked`]. `path` only names the file in errors.
    pub fn from_json_checked(path: &Path, bytes: &[u8]) -> Result<(Self, Integrity)> {
        let parse = |detail: String| Error::Parse {
            path: path.to_path_buf(),
            detail,
        };
        let Some(rest) = bytes.strip_prefix(CHECKSUM_PREFIX.as_bytes()) else {
            // No checksum: a snapshot from before checksums, unless the start shows a damaged one.
            let head = &bytes[..bytes.len().min(48)];
            if contains(head, b"xxh3-64:") || contains(head, b"checksum") {
                return Err(parse(
                    "the checksum member is damaged; the file is corrupt".into(),
                ));
            }
            let snapshot = serde_json::from_slice(bytes).map_err(|e| parse(e.to_string()))?;
            return Ok((snapshot, Integrity::Unchecked));
        };
        let end = rest
            .iter()
            .position(|&b| b == b'"')
            .filter(|&i| i <= 64)
            .ok_or_else(|| parse("the checksum member is damaged; the file is corrupt".into()))?;
        let expected = String::from_utf8_lossy(&rest[..end]).into_owned();
        let after = &rest[end + 1..];
        let members = match after.first() {
            Some(b',') => &after[1..],
            Some(b'}') => after,
            _ => {
                return Err(parse(
                    "the checksum member is damaged; the file is corrupt".into(),
                ))
            }
        };
        let mut body = Vec::with_capacity(members.len() + 1);
        body.push(b'{');
        body.extend_from_slice(members);
        let found = bump_unet::checkpoint::digest_bytes(&body);
        if found != expected {
            return Err(Error::ChecksumMismatch {
                path: path.to_path_buf(),
                expected,
                found,
            });
        }
        let snapshot = serde_json::from_slice(&body).map_err(|e| parse(e.to_string()))?;
        Ok((snapshot, Integrity::Verified(found)))
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
