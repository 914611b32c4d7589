//! Seeded shuffling into mini-batches of indices (the data itself is never copied).

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};

/// Deterministic per-epoch shuffles of `0..len` cut into batches of `batch_size`.
///
/// Epoch `e` uses a ChaCha8 stream seeded by `seed` on stream `e`, so any epoch can be
/// regenerated on its own and the same (seed, epoch) always gives the same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batches {
    /// Number of items.
    pub len: usize,
    /// Items per batch (the last batch may be shorter unless `drop_last`).
    pub batch_size: usize,
    /// Seed of the shuffle.
    pub seed: u64,
    /// Drop a final short batch. Default false.
    pub drop_last: bool,
}

impl Batches {
    /// Builds and validates (`len > 0`, `batch_size > 0`).
    pub fn new(len: usize, batch_size: usize, seed: u64) -> Result<Self> {
        let b = Self {
            len,
            batch_size,
            seed,
            drop_last: false,
        };
        b.validate()?;
        Ok(b)
    }

    /// Sets `drop_last`.
    pub fn with_drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// Checks `len > 0` and `batch_size > 0`.
    pub fn validate(&self) -> Result<()> {
        if self.len == 0 {
            return Err(Error::InvalidArgument(
                "cannot batch an empty dataset".into(),
            ));
        }
        if self.batch_size == 0 {
            return Err(Error::InvalidArgument("batch size must be > 0".into()));
        }
        Ok(())
    }

    /// Batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        if self.drop_last {
            self.len / self.batch_size
        } else {
            self.len.div_ceil(self.batch_size)
        }
    }

    /// The shuffled order of `0..len` for `epoch`.
    pub fn permutation(&self, epoch: u64) -> Vec<usize> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(epoch);
        let mut order: Vec<usize> = (0..self.len).collect();
        order.shuffle(&mut rng);
        order
    }

    /// The index batches of `epoch`, in order.
    pub fn epoch(&self, epoch: u64) -> EpochBatches {
        EpochBatches {
            order: self.permutation(epoch),
            batch_size: self.batch_size.max(1),
            drop_last: self.drop_last,
            pos: 0,
        }
    }
}

/// Iterator over the index batches of one epoch.
#[derive(Debug, Clone)]
pub struct EpochBatches {
    order: Vec<usize>,
    batch_size: usize,
    drop_last: bool,
    pos: usize,
}

impl EpochBatches {
    /// The whole shuffled order of this epoch.
    pub fn order(&self) -> &[usize] {
        &self.order
    }
}

impl Iterator for EpochBatches {
    type Item = Vec<usize>;

    fn next(&mut self) -> Option<Vec<usize>> {
        let rest = self.order.len() - self.pos;
        if rest == 0 || (self.drop_last && rest < self.batch_size) {
            return None;
        }
        let end = self.pos + rest.min(self.batch_size);
        let b = self.order[self.pos..end].to_vec();
        self.pos = end;
        Some(b)
    }
}
