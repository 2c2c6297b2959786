//! Classifier-free guidance (`edm.md` §5) and an evaluation counter.
//!
//! ```text
//! D_w(x; σ, c) = D(x; σ, ∅) + w·(D(x; σ, c) − D(x; σ, ∅))
//! ```
//!
//! **w = 1 means no guidance** (EDM2's convention, `lerp(D_uncond, D_cond, w)`); w = 0 is the
//! unconditional model. With a guidance interval [σ_lo, σ_hi] (Kynkäänniemi et al. 2024), w
//! applies only there and is 1 elsewhere. The conditional and null passes run as one batch of
//! 2B rows, so a guided evaluation costs two network evaluations per image: count NFE that way.
use super::{per_row, Cond, Denoiser};
use crate::error::{Error, Result};
use autograd::Var;
use std::cell::Cell;
use tensor::Tensor;

/// The guidance settings: scale w, the null condition ∅ (one row), and an optional σ interval.
#[derive(Clone, Debug)]
pub struct Guidance {
    pub w: f64,
    pub null: Cond,
    /// (σ_lo, σ_hi): guide only for σ in this closed interval.
    pub interval: Option<(f64, f64)>,
}

impl Guidance {
    pub fn new(w: f64, null: Cond) -> Result<Self> {
        if !w.is_finite() || null.batch() != 1 {
            return Err(Error::invalid(
                "Guidance::new",
                format!("need a finite w and a one-row null condition, got w = {w}, {} rows", null.batch()),
            ));
        }
        Ok(Guidance { w, null, interval: None })
    }
    pub fn with_interval(mut self, sigma_lo: f64, sigma_hi: f64) -> Self {
        self.interval = Some((sigma_lo, sigma_hi));
        self
    }
    /// The scale used at noise level σ (1 outside the interval).
    pub fn w_at(&self, sigma: f64) -> f64 {
        match self.interval {
            Some((lo, hi)) if !(lo..=hi).contains(&sigma) => 1.0,
            _ => self.w,
        }
    }
}

/// A denoiser with classifier-free guidance applied to every evaluation (both Heun stages, every
/// η-step). Without a condition it is the plain unconditional denoiser.
pub struct Guided<'a, D> {
    pub den: &'a D,
    pub guidance: &'a Guidance,
}

impl<'a, D: Denoiser> Guided<'a, D> {
    pub fn new(den: &'a D, guidance: &'a Guidance) -> Self {
        Guided { den, guidance }
    }
}

impl<D: Denoiser> Denoiser for Guided<'_, D> {
    fn denoise(&self, x: &Var, sigma: &Var, cond: Option<&Cond>) -> Result<Var> {
        let Some(c) = cond else { return self.den.denoise(x, sigma, None) };
        let b = x.shape().first().copied().unwrap_or(0);
        let w: Vec<f64> = sigma.to_vec_f64()?.iter().map(|&s| self.guidance.w_at(s)).collect();
        if w.iter().all(|&w| w == 1.0) {
            return self.den.denoise(x, sigma, Some(c));
        }
        // One pass over [x; x] with [c; ∅], then split.
        let both = c.cat(&self.guidance.null.repeat_rows(b)?)?;
        let out = self.den.denoise(&Var::cat(&[x, x], 0)?, &Var::cat(&[sigma, sigma], 0)?, Some(&both))?;
        let (d_cond, d_null) = (out.narrow(0, 0, b)?, out.narrow(0, b, b)?);
        let w = per_row(
            &Var::constant(Tensor::from_vec(w, &[b])?.to_dtype(x.dtype())?.to_device(x.value().device())?),
            x.rank(),
        )?;
        Ok(d_null.add(&d_cond.sub(&d_null)?.mul(&w)?)?)
    }
}

/// Counts what passes through a denoiser: calls and rows (a guided call of B images is one call
/// of 2B rows to the wrapped model). Tests use it to check NFE = 2N − 1 for Heun.
pub struct CountEvals<D> {
    pub den: D,
    calls: Cell<usize>,
    rows: Cell<usize>,
}

impl<D> CountEvals<D> {
    pub fn new(den: D) -> Self {
        CountEvals { den, calls: Cell::new(0), rows: Cell::new(0) }
    }
    pub fn calls(&self) -> usize {
        self.calls.get()
    }
    pub fn rows(&self) -> usize {
        self.rows.get()
    }
}

impl<D: Denoiser> Denoiser for CountEvals<D> {
    fn denoise(&self, x: &Var, sigma: &Var, cond: Option<&Cond>) -> Result<Var> {
        self.calls.set(self.calls.get() + 1);
        self.rows.set(self.rows.get() + x.shape().first().copied().unwrap_or(0));
        self.den.denoise(x, sigma, cond)
    }
}
