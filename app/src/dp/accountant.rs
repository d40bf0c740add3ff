//! The privacy accountant: Rényi differential privacy (RDP) of the Poisson-sampled Gaussian
//! mechanism, composed over steps and converted to (ε, δ). Written here because no crate
//! we found accounts for the sampled Gaussian; it follows the same mathematics as Google's
//! `dp-accounting` (its `RdpAccountant`, the test suite's reference):
//!
//! - One step with sampling rate `q` and noise multiplier `σ` (noise standard deviation over
//!   the sensitivity) has RDP of order `α`:
//!   `q = 1`: `α / (2σ²)` (the Gaussian mechanism, Mironov 2017, Prop. 7);
//!   `0 < q < 1`: `log A_α / (α − 1)` with `A_α` from Mironov, Talwar & Zhang 2019 ("Rényi
//!   differential privacy of the sampled Gaussian mechanism", arXiv:1908.10530): for integer
//!   `α`, `A_α = Σ_{i=0}^{α} C(α, i) qⁱ (1−q)^{α−i} exp((i² − i) / (2σ²))` (§3.2); for
//!   fractional `α`, the two-sided series with `erfc` of §3.3, summed until its terms are
//!   decreasing and 30 nats below the total.
//! - RDP composes by addition over steps and over mechanisms (Mironov 2017, Prop. 1).
//! - ε at δ is the minimum over orders `α > 1.01` of
//!   `rdp + log1p(−1/α) − log(δ·α) / (α − 1)` (Canonne, Kamath & Steinke 2020, Prop. 12; also
//!   Asoodeh et al. 2020, Eq. 20), and 0 where `δ² + expm1(−rdp) > 0` (the KL bound).
//!
//! The orders are `dp-accounting`'s defaults: 1.1 to 10.9 by 0.1, 11 to 63, 128, 256, 512, 1024.

use super::DpError;

/// The orders α at which RDP is tracked.
pub fn orders() -> Vec<f64> {
    (1..100).map(|x| 1.0 + f64::from(x) / 10.0).chain((11..64).map(f64::from)).chain([128.0, 256.0, 512.0, 1024.0]).collect()
}

/// `log(exp(a) + exp(b))` without overflow.
fn log_add(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// `log(erfc(x))`, accurate far into the tail where `erfc` underflows (the asymptotic series
/// at infinity, as `dp-accounting` uses when it has no `log_ndtr`).
fn log_erfc(x: f64) -> f64 {
    if x < 20.0 {
        return libm::erfc(x).ln();
    }
    let x2 = x * x;
    -std::f64::consts::PI.ln() / 2.0 - x.ln() - x2 - 0.5 / x2 + 0.625 / (x2 * x2) - 37.0 / 24.0 / (x2 * x2 * x2)
        + 353.0 / 64.0 / (x2 * x2 * x2 * x2)
}

/// `log |C(α, i)|` for `i = 0, 1, …` (α real), by the product `C(α, i+1) = C(α, i)·(α−i)/(i+1)`.
struct LogBinomials {
    alpha: f64,
    i: u32,
    log_abs: f64,
}

impl Iterator for LogBinomials {
    type Item = f64;
    fn next(&mut self) -> Option<f64> {
        let current = self.log_abs;
        let i = f64::from(self.i);
        self.log_abs += (self.alpha - i).abs().ln() - (i + 1.0).ln();
        self.i += 1;
        Some(current)
    }
}

fn log_binomials(alpha: f64) -> LogBinomials {
    LogBinomials { alpha, i: 0, log_abs: 0.0 }
}

/// `log A_α` for integer `α` and `0 < q < 1`.
fn log_a_int(q: f64, sigma: f64, alpha: u32) -> f64 {
    let log1mq = (-q).ln_1p();
    log_binomials(f64::from(alpha)).take(alpha as usize + 1).enumerate().fold(f64::NEG_INFINITY, |acc, (i, log_coef)| {
        let i = i as f64;
        let term = log_coef + i * q.ln() + (f64::from(alpha) - i) * log1mq + (i * i - i) / (2.0 * sigma * sigma);
        log_add(acc, term)
    })
}

/// Terms of the fractional series at most; `dp-accounting` gives up at the same count.
const MAX_FRAC_TERMS: usize = 1000;

/// `log A_α` for fractional `α` and `0 < q < 1` (the series of arXiv:1908.10530 §3.3, with
/// every term's magnitude, as `dp-accounting` 0.6 sums them); infinite if it does not converge.
fn log_a_frac(q: f64, sigma: f64, alpha: f64) -> f64 {
    let (mut log_a0, mut log_a1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let z0 = sigma * sigma * (1.0 / q - 1.0).ln() + 0.5;
    let log1mq = (-q).ln_1p();
    let (mut last0, mut last1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let root2sigma = std::f64::consts::SQRT_2 * sigma;
    for (i, log_coef) in log_binomials(alpha).take(MAX_FRAC_TERMS).enumerate() {
        let i = i as f64;
        let j = alpha - i;
        let log_t0 = log_coef + i * q.ln() + j * log1mq;
        let log_t1 = log_coef + j * q.ln() + i * log1mq;
        let log_e0 = 0.5f64.ln() + log_erfc((i - z0) / root2sigma);
        let log_e1 = 0.5f64.ln() + log_erfc((z0 - j) / root2sigma);
        let log_s0 = log_t0 + (i * i - i) / (2.0 * sigma * sigma) + log_e0;
        let log_s1 = log_t1 + (j * j - j) / (2.0 * sigma * sigma) + log_e1;
        log_a0 = log_add(log_a0, log_s0);
        log_a1 = log_add(log_a1, log_s1);
        let total = log_add(log_a0, log_a1);
        if log_s0 < last0 && log_s1 < last1 && log_s0.max(log_s1) < total - 30.0 {
            return total;
        }
        (last0, last1) = (log_s0, log_s1);
    }
    f64::INFINITY
}

/// RDP of order `alpha` of one step of the Poisson-sampled Gaussian mechanism.
pub fn rdp_step(q: f64, sigma: f64, alpha: f64) -> f64 {
    if q == 0.0 {
        return 0.0;
    }
    if sigma == 0.0 || alpha.is_infinite() {
        return f64::INFINITY;
    }
    if q == 1.0 {
        return alpha / (2.0 * sigma * sigma);
    }
    let log_a = if alpha.fract() == 0.0 { log_a_int(q, sigma, alpha as u32) } else { log_a_frac(q, sigma, alpha) };
    log_a / (alpha - 1.0)
}

/// The tight conversion of RDP at `orders` to ε at `delta` (the module's note); the best ε
/// and the order that gave it.
pub fn epsilon_from_rdp(orders: &[f64], rdp: &[f64], delta: f64) -> (f64, f64) {
    if delta == 0.0 {
        return if rdp.iter().all(|r| *r == 0.0) { (0.0, 0.0) } else { (f64::INFINITY, 0.0) };
    }
    orders
        .iter()
        .zip(rdp)
        .map(|(&a, &r)| {
            let eps = if r < 0.0 || delta * delta + (-r).exp_m1() > 0.0 {
                0.0
            } else if a > 1.01 {
                r + (-1.0 / a).ln_1p() - (delta * a).ln() / (a - 1.0)
            } else {
                f64::INFINITY
            };
            (eps.max(0.0), a)
        })
        .fold((f64::INFINITY, 0.0), |best, e| if e.0 < best.0 { e } else { best })
}

/// A running account: the RDP spent so far at each order.
#[derive(Clone, Debug, PartialEq)]
pub struct Accountant {
    orders: Vec<f64>,
    rdp: Vec<f64>,
}

impl Default for Accountant {
    fn default() -> Self {
        let orders = orders();
        let rdp = vec![0.0; orders.len()];
        Accountant { orders, rdp }
    }
}

/// Checks one mechanism's parameters, naming the field.
pub fn check(q: f64, sigma: f64) -> Result<(), DpError> {
    if !(0.0..=1.0).contains(&q) {
        return Err(DpError::field("sampling_rate", format!("must be between 0 and 1, not {q}")));
    }
    if !(sigma.is_finite() && sigma > 0.0) {
        return Err(DpError::field("noise_multiplier", format!("must be above 0, not {sigma}")));
    }
    Ok(())
}

/// Checks a δ, naming the field.
pub fn check_delta(delta: f64) -> Result<(), DpError> {
    if !(delta > 0.0 && delta < 1.0) {
        return Err(DpError::field("delta", format!("must be above 0 and below 1, not {delta}")));
    }
    Ok(())
}

impl Accountant {
    /// Adds `steps` steps of the sampled Gaussian mechanism.
    pub fn compose(&mut self, q: f64, sigma: f64, steps: u64) -> Result<(), DpError> {
        check(q, sigma)?;
        for (r, a) in self.rdp.iter_mut().zip(&self.orders) {
            *r += rdp_step(q, sigma, *a) * steps as f64;
        }
        Ok(())
    }

    /// ε spent so far at `delta`.
    pub fn epsilon(&self, delta: f64) -> Result<f64, DpError> {
        check_delta(delta)?;
        Ok(epsilon_from_rdp(&self.orders, &self.rdp, delta).0)
    }

    /// Whether `steps` more steps of `(q, sigma)` would take ε at `delta` above `budget`.
    pub fn would_exceed(&self, q: f64, sigma: f64, steps: u64, delta: f64, budget: f64) -> Result<bool, DpError> {
        let mut next = self.clone();
        next.compose(q, sigma, steps)?;
        Ok(next.epsilon(delta)? > budget)
    }
}

/// ε after `steps` steps of `(q, sigma)`, at `delta`.
pub fn epsilon(q: f64, sigma: f64, steps: u64, delta: f64) -> Result<f64, DpError> {
    let mut a = Accountant::default();
    a.compose(q, sigma, steps)?;
    a.epsilon(delta)
}

/// The smallest noise multiplier (to a relative 1e-4, found by bisection, which ε's
/// monotone decrease in σ allows) whose ε after `steps` steps at `delta` is at most `target`.
pub fn noise_for(q: f64, steps: u64, delta: f64, target: f64) -> Result<f64, DpError> {
    if !(target.is_finite() && target > 0.0) {
        return Err(DpError::field("epsilon", format!("must be above 0, not {target}")));
    }
    check_delta(delta)?;
    check(q, 1.0)?;
    let eps = |sigma: f64| epsilon(q, sigma, steps, delta);
    let (mut lo, mut hi) = (1e-3, 1.0);
    while eps(hi)? > target {
        hi *= 2.0;
        if hi > 1e6 {
            return Err(DpError::field("epsilon", format!("no noise multiplier up to 10⁶ reaches ε = {target}")));
        }
    }
    while hi / lo > 1.0 + 1e-4 {
        let mid = (lo * hi).sqrt();
        if eps(mid)? > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gaussian_mechanism_without_sampling_has_its_closed_form() {
        // q = 1: RDP α/(2σ²) per step, so one step at σ = 1 has RDP 0.5 at α = 1 … and ε at δ
        // is the conversion's minimum over the orders.
        assert_eq!(rdp_step(1.0, 2.0, 8.0), 1.0);
        let e = epsilon(1.0, 1.0, 1, 1e-5).unwrap();
        assert!(e > 3.0 && e < 5.0, "{e}");
    }

    #[test]
    fn integer_and_fractional_orders_agree_where_they_meet() {
        // The fractional series at α = 3 ± tiny is continuous with the integer sum at 3.
        let (q, s) = (0.01, 1.1);
        let int = rdp_step(q, s, 3.0);
        let frac = rdp_step(q, s, 3.000001);
        assert!((int - frac).abs() / int < 1e-4, "{int} vs {frac}");
    }

    #[test]
    fn the_noise_search_meets_the_target_and_a_little_less_noise_does_not() {
        let (q, steps, delta, target) = (0.01, 1000, 1e-5, 2.0);
        let sigma = noise_for(q, steps, delta, target).unwrap();
        assert!(epsilon(q, sigma, steps, delta).unwrap() <= target);
        assert!(epsilon(q, sigma * (1.0 - 2e-4), steps, delta).unwrap() > target);
    }

    #[test]
    fn bad_parameters_name_their_field() {
        assert_eq!(epsilon(1.5, 1.0, 1, 1e-5).unwrap_err().field_name(), "sampling_rate");
        assert_eq!(epsilon(0.1, 0.0, 1, 1e-5).unwrap_err().field_name(), "noise_multiplier");
        assert_eq!(epsilon(0.1, 1.0, 1, 1.0).unwrap_err().field_name(), "delta");
        assert_eq!(noise_for(0.1, 1, 1e-5, -1.0).unwrap_err().field_name(), "epsilon");
    }
}
