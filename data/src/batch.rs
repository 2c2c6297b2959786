//! Mini-batches over an in-memory dataset.
//!
//! A [`BatchSampler`] turns an epoch number into a list of index batches: the order is the
//! identity or a seeded permutation (a new one per epoch, a pure function of `(seed, epoch)`), cut
//! into batches of `batch_size`, the last one shorter unless `drop_last` drops it. A [`Dataset`]
//! turns an index batch into tensors; [`batches`] puts the two together.
//!
//! ```
//! use data::batch::{batches, BatchSampler, TensorDataset};
//! use tensor::{DType, Tensor};
//! let ds = TensorDataset::new(Tensor::zeros(&[10, 2], DType::F32), None).unwrap();
//! let sampler = BatchSampler::new(10, 4).unwrap().shuffled(7).drop_last(true);
//! for epoch in 0..2 {
//!     for batch in batches(&ds, &sampler, epoch).unwrap() {
//!         assert_eq!(batch.unwrap().inputs.shape(), &[4, 2]);
//!     }
//! }
//! ```
use crate::error::{Error, Result};
use crate::image::LabeledImages;
use tensor::rng::uniform_at;
use tensor::{DType, Tensor};

/// A uniformly random permutation of `0..n`, fixed by `(seed, epoch)`: Fisher–Yates where step i
/// draws uniform number i of Philox stream `epoch`.
pub fn shuffled_indices(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = ((uniform_at(seed, epoch, i as u64) * (i + 1) as f64) as usize).min(i);
        v.swap(i, j);
    }
    v
}

/// Cuts `0..n` into index batches, epoch by epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSampler {
    n: usize,
    batch_size: usize,
    /// `Some(seed)` shuffles each epoch.
    seed: Option<u64>,
    drop_last: bool,
}

impl BatchSampler {
    /// Batches of `batch_size` (≥ 1) over `n` items, in order, keeping a short last batch.
    pub fn new(n: usize, batch_size: usize) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::invalid("BatchSampler::new", "batch size must be at least 1"));
        }
        Ok(BatchSampler { n, batch_size, seed: None, drop_last: false })
    }
    /// Shuffles every epoch with a permutation fixed by `(seed, epoch)`.
    pub fn shuffled(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
    /// Drops the last batch when it is shorter than `batch_size`.
    pub fn drop_last(mut self, drop: bool) -> Self {
        self.drop_last = drop;
        self
    }
    /// Items per epoch.
    pub fn len(&self) -> usize {
        self.n
    }
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }
    /// Batches per epoch.
    pub fn num_batches(&self) -> usize {
        if self.drop_last {
            self.n / self.batch_size
        } else {
            self.n.div_ceil(self.batch_size)
        }
    }
    /// The index batches of `epoch`.
    pub fn epoch(&self, epoch: u64) -> EpochBatches {
        let order = match self.seed {
            Some(seed) => shuffled_indices(self.n, seed, epoch),
            None => (0..self.n).collect(),
        };
        EpochBatches { order, pos: 0, batch_size: self.batch_size, drop_last: self.drop_last }
    }
}

/// The index batches of one epoch (see [`BatchSampler::epoch`]).
#[derive(Clone, Debug)]
pub struct EpochBatches {
    order: Vec<usize>,
    pos: usize,
    batch_size: usize,
    drop_last: bool,
}

impl Iterator for EpochBatches {
    type Item = Vec<usize>;
    fn next(&mut self) -> Option<Vec<usize>> {
        let left = self.order.len() - self.pos;
        if left == 0 || (self.drop_last && left < self.batch_size) {
            return None;
        }
        let take = left.min(self.batch_size);
        let b = self.order[self.pos..self.pos + take].to_vec();
        self.pos += take;
        Some(b)
    }
}

/// One mini-batch: inputs stacked along a new first dimension, and labels if the dataset has any.
#[derive(Clone, Debug)]
pub struct Batch {
    pub inputs: Tensor,
    pub labels: Option<Tensor>,
}

/// Anything that can hand out a batch of items by index.
pub trait Dataset {
    /// Number of items.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The items at `indices`, in that order; an index ≥ `len()` is an error.
    fn batch(&self, indices: &[usize]) -> Result<Batch>;
}

/// A dataset held as tensors: `inputs` `[N, ...]` and optional `labels` `[N, ...]`.
#[derive(Clone, Debug)]
pub struct TensorDataset {
    inputs: Tensor,
    labels: Option<Tensor>,
}

impl TensorDataset {
    /// Both tensors must have the same (non-zero-rank) first dimension.
    pub fn new(inputs: Tensor, labels: Option<Tensor>) -> Result<Self> {
        let n = inputs.shape().first().copied();
        if n.is_none() || labels.as_ref().is_some_and(|l| l.shape().first().copied() != n) {
            return Err(Error::invalid(
                "TensorDataset::new",
                format!(
                    "inputs {:?} and labels {:?} need the same first dimension",
                    inputs.shape(),
                    labels.as_ref().map(|l| l.shape().to_vec())
                ),
            ));
        }
        Ok(TensorDataset { inputs, labels })
    }
}

impl Dataset for TensorDataset {
    fn len(&self) -> usize {
        self.inputs.shape()[0]
    }
    fn batch(&self, indices: &[usize]) -> Result<Batch> {
        let idx = Tensor::from_vec(indices.iter().map(|&i| i as i64).collect::<Vec<i64>>(), &[indices.len()])?;
        let labels = match &self.labels {
            Some(l) => Some(l.index_select(0, &idx)?),
            None => None,
        };
        Ok(Batch { inputs: self.inputs.index_select(0, &idx)?, labels })
    }
}

impl Dataset for LabeledImages {
    fn len(&self) -> usize {
        self.n
    }
    /// Images as f32 `[B, C, H, W]` in [−1, 1], labels as i64 `[B]`.
    fn batch(&self, indices: &[usize]) -> Result<Batch> {
        Ok(Batch { inputs: self.images_tensor(indices)?, labels: Some(self.labels_tensor(indices)?) })
    }
}

/// The batches of one epoch of `data` as tensors. The sampler must cover exactly `data.len()`
/// items.
pub fn batches<'a, D: Dataset>(data: &'a D, sampler: &BatchSampler, epoch: u64) -> Result<Batches<'a, D>> {
    if sampler.len() != data.len() {
        return Err(Error::invalid(
            "batches",
            format!("sampler covers {} items but the dataset has {}", sampler.len(), data.len()),
        ));
    }
    Ok(Batches { data, inner: sampler.epoch(epoch) })
}

/// Iterator over the tensor batches of one epoch (see [`batches`]).
pub struct Batches<'a, D: Dataset> {
    data: &'a D,
    inner: EpochBatches,
}

impl<D: Dataset> Iterator for Batches<'_, D> {
    type Item = Result<Batch>;
    fn next(&mut self) -> Option<Result<Batch>> {
        self.inner.next().map(|idx| self.data.batch(&idx))
    }
}

/// A tensor dataset of 2-D points (`[N, 2]` of `dtype`), e.g. a fixed sample of a toy.
pub fn points_dataset(points: &[[f64; 2]], dtype: DType) -> Result<TensorDataset> {
    TensorDataset::new(crate::toy2d::points_to_tensor(points, dtype)?, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flatten(b: &BatchSampler, epoch: u64) -> Vec<usize> {
        b.epoch(epoch).flatten().collect()
    }

    #[test]
    fn every_index_once_per_epoch() {
        for (n, bs) in [(10, 3), (9, 3), (1, 5), (0, 2), (1000, 64)] {
            let s = BatchSampler::new(n, bs).unwrap().shuffled(42);
            for epoch in 0..3 {
                let mut all = flatten(&s, epoch);
                all.sort();
                assert_eq!(all, (0..n).collect::<Vec<_>>());
                assert_eq!(s.epoch(epoch).count(), s.num_batches());
            }
        }
    }

    #[test]
    fn shuffling_is_deterministic_by_seed_and_differs_by_epoch() {
        let s = BatchSampler::new(100, 10).unwrap().shuffled(1);
        assert_eq!(flatten(&s, 0), flatten(&s, 0));
        assert_ne!(flatten(&s, 0), flatten(&s, 1));
        assert_ne!(flatten(&s, 0), flatten(&BatchSampler::new(100, 10).unwrap().shuffled(2), 0));
        assert_ne!(flatten(&s, 0), (0..100).collect::<Vec<_>>());
        assert_eq!(flatten(&BatchSampler::new(5, 2).unwrap(), 3), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn shuffle_is_roughly_uniform() {
        // Position of item 0 over many epochs: each of 4 slots about a quarter of the time.
        let mut counts = [0usize; 4];
        for e in 0..4000 {
            counts[shuffled_indices(4, 9, e).iter().position(|&v| v == 0).unwrap()] += 1;
        }
        assert!(counts.iter().all(|&c| (850..1150).contains(&c)), "{counts:?}");
    }

    #[test]
    fn drop_last_keeps_only_full_batches() {
        let keep = BatchSampler::new(10, 4).unwrap();
        let sizes: Vec<usize> = keep.epoch(0).map(|b| b.len()).collect();
        assert_eq!(sizes, vec![4, 4, 2]);
        let drop = keep.drop_last(true).shuffled(3);
        let batches: Vec<Vec<usize>> = drop.epoch(0).collect();
        assert_eq!(batches.iter().map(|b| b.len()).collect::<Vec<_>>(), vec![4, 4]);
        assert_eq!(drop.num_batches(), 2);
        let mut seen: Vec<usize> = batches.concat();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 8);
        assert!(BatchSampler::new(3, 0).is_err());
    }

    #[test]
    fn tensor_batches_follow_the_indices() {
        let x = Tensor::from_vec((0..12).map(|v| v as f32).collect::<Vec<f32>>(), &[6, 2]).unwrap();
        let y = Tensor::from_vec((0..6).map(|v| v * 10).collect::<Vec<i64>>(), &[6]).unwrap();
        let ds = TensorDataset::new(x, Some(y)).unwrap();
        let s = BatchSampler::new(6, 4).unwrap().shuffled(5);
        let idx: Vec<Vec<usize>> = s.epoch(2).collect();
        let got: Vec<Batch> = batches(&ds, &s, 2).unwrap().collect::<Result<_>>().unwrap();
        assert_eq!(got.len(), 2);
        for (b, ix) in got.iter().zip(&idx) {
            let want: Vec<f32> = ix.iter().flat_map(|&i| [2.0 * i as f32, 2.0 * i as f32 + 1.0]).collect();
            assert_eq!(b.inputs.to_vec::<f32>().unwrap(), want);
            let labels = b.labels.as_ref().unwrap().to_vec::<i64>().unwrap();
            assert_eq!(labels, ix.iter().map(|&i| i as i64 * 10).collect::<Vec<_>>());
        }
        assert!(batches(&ds, &BatchSampler::new(7, 2).unwrap(), 0).is_err());
        assert!(ds.batch(&[6]).is_err());
        assert!(TensorDataset::new(Tensor::zeros(&[3, 2], DType::F32), Some(Tensor::zeros(&[4], DType::F32))).is_err());
        let pts = points_dataset(&[[1.0, 2.0], [3.0, 4.0]], DType::F64).unwrap();
        assert_eq!(pts.batch(&[1]).unwrap().inputs.to_vec::<f64>().unwrap(), vec![3.0, 4.0]);
    }
}
