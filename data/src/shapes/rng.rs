//! A small seeded generator for the shapes world: SplitMix64 (Steele, Lea & Flood 2014).
//! It is fast, has a 64-bit state, and its output passes BigCrush; that is plenty for choosing
//! shapes, colours and positions. [`ShapesRng::for_item`] gives item `i` of a seeded stream its
//! own generator, so that a data loader can produce item 1000 without drawing items 0..999, and
//! any split of the work over threads gives the same scenes.

/// SplitMix64 state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapesRng {
    state: u64,
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 output function: a bijective 64-bit mix.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl ShapesRng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        ShapesRng { state: seed }
    }

    /// The generator of item `index` of the stream `seed`: a seed mixed from both, so nearby
    /// indices give unrelated sequences.
    pub fn for_item(seed: u64, index: u64) -> Self {
        ShapesRng { state: mix(mix(seed ^ 0x5EED_0F5C_E4E5_0000).wrapping_add(index.wrapping_mul(GOLDEN))) }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix(self.state)
    }

    /// A uniform number in [0, 1) with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform number in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// A uniform integer in 0..n (0 when n is 0). Uses the widening-multiply method, whose bias
    /// is below 2⁻⁵⁸ for the small `n` used here.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// A uniformly chosen element of a non-empty slice (`None` when it is empty).
    pub fn choose<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len()))
        }
    }

    /// `true` with probability `p`.
    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Fisher–Yates shuffle in place.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers_and_items_differ() {
        let a: Vec<u64> = (0..8).map(|_| 0).scan(ShapesRng::new(7), |r, _: u64| Some(r.next_u64())).collect();
        let b: Vec<u64> = (0..8).map(|_| 0).scan(ShapesRng::new(7), |r, _: u64| Some(r.next_u64())).collect();
        assert_eq!(a, b);
        assert_ne!(ShapesRng::for_item(1, 0).next_u64(), ShapesRng::for_item(1, 1).next_u64());
        assert_ne!(ShapesRng::for_item(1, 0).next_u64(), ShapesRng::for_item(2, 0).next_u64());
    }

    #[test]
    fn below_is_in_range_and_roughly_uniform() {
        let mut r = ShapesRng::new(3);
        let mut counts = [0usize; 6];
        for _ in 0..60_000 {
            counts[r.below(6)] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
        assert_eq!(r.below(0), 0);
        let u = r.uniform();
        assert!((0.0..1.0).contains(&u));
    }
}
