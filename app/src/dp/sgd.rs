//! DP-SGD's mechanism (Abadi et al. 2016): each step takes a Poisson sample of the rows (each
//! row in with probability `q`), clips every row's gradient to L2 norm `C`, sums them, and adds
//! Gaussian noise of standard deviation `σ·C` to every coordinate; the step divides by the
//! expected batch `q·n`. Each step is one use of the sampled Gaussian mechanism with noise
//! multiplier `σ` and sampling rate `q`, which is what `accountant` composes. Here for
//! multinomial logistic regression and the multilayer perceptron; the trainer calls it
//! through `fit`.

use ndarray::{Array2, Axis};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

use super::DpError;
use crate::ml::dqn::Network;
use crate::ml::linear::Fitted;
use crate::ml::model::{AnyModel, Monitor};
use crate::ml::task::Target;
use crate::ml::MlError;

/// Scales `grad` down to L2 norm `clip` if it is longer; its norm before.
pub fn clip(grad: &mut [f64], clip: f64) -> f64 {
    let norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
    if norm > clip {
        grad.iter_mut().for_each(|g| *g *= clip / norm);
    }
    norm
}

/// The rows of one Poisson-sampled step: each of `n` independently with probability `q`.
pub fn poisson_sample(n: usize, q: f64, rng: &mut StdRng) -> Vec<usize> {
    (0..n).filter(|_| rng.random::<f64>() < q).collect()
}

/// Adds independent `N(0, std²)` noise to every coordinate.
pub fn add_noise(sum: &mut [f64], std: f64, rng: &mut StdRng) -> Result<(), DpError> {
    let normal = Normal::new(0.0, std).map_err(|e| DpError::field("noise_multiplier", e.to_string()))?;
    sum.iter_mut().for_each(|s| *s += normal.sample(rng));
    Ok(())
}

/// DP-SGD's settings for one fit.
#[derive(Clone, Debug, PartialEq)]
pub struct DpSgd {
    /// Per-row gradient norm bound `C`.
    pub clip_norm: f64,
    /// `σ`: the noise's standard deviation is `σ·C`.
    pub noise_multiplier: f64,
    /// Expected batch size; the sampling rate is `batch / rows`.
    pub batch: usize,
    /// Passes over the rows; the steps are `epochs · rows / batch`.
    pub epochs: usize,
    pub learning_rate: f64,
    pub seed: u64,
}

/// Softmax of `z` in place (shifted by its maximum, so large scores do not overflow).
fn softmax(z: &mut [f64]) {
    let max = z.iter().copied().fold(f64::MIN, f64::max);
    z.iter_mut().for_each(|v| *v = (*v - max).exp());
    let total: f64 = z.iter().sum();
    z.iter_mut().for_each(|v| *v /= total);
}

impl DpSgd {
    /// The sampling rate and the number of steps on `rows` rows (what the accountant needs).
    pub fn schedule(&self, rows: usize) -> (f64, u64) {
        let q = (self.batch as f64 / rows.max(1) as f64).min(1.0);
        (q, (self.epochs as f64 / q).ceil() as u64)
    }

    pub(crate) fn check(&self) -> Result<(), DpError> {
        if !(self.clip_norm.is_finite() && self.clip_norm > 0.0) {
            return Err(DpError::field("clip_norm", format!("must be above 0, not {}", self.clip_norm)));
        }
        if !(self.noise_multiplier.is_finite() && self.noise_multiplier >= 0.0) {
            return Err(DpError::field("noise_multiplier", format!("must be 0 or more, not {}", self.noise_multiplier)));
        }
        if self.batch == 0 {
            return Err(DpError::field("batch_size", "must be at least 1"));
        }
        if self.epochs == 0 {
            return Err(DpError::field("epochs", "must be at least 1"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(DpError::field("learning_rate", format!("must be above 0, not {}", self.learning_rate)));
        }
        Ok(())
    }

    /// The DP-SGD loop over `n` rows from the flat parameters `w`: each step, every sampled
    /// row's gradient (from `row_gradients(w, rows)`, one vector per row, `w`'s length) is
    /// clipped to `C`, they are summed, noised, and divided by the expected batch `q·n`.
    /// `progress(epoch, epochs)` is called at each epoch's end and stops the run with `Err`.
    pub fn run<E: From<DpError>>(
        &self,
        n: usize,
        mut w: Vec<f64>,
        row_gradients: impl Fn(&[f64], &[usize]) -> Vec<Vec<f64>>,
        mut progress: impl FnMut(usize, usize) -> Result<(), E>,
    ) -> Result<Vec<f64>, E> {
        self.check()?;
        let (q, steps) = self.schedule(n);
        let mut rng = StdRng::seed_from_u64(self.seed);
        let per_epoch = (steps / self.epochs as u64).max(1);
        for step in 0..steps {
            let mut sum = vec![0.0; w.len()];
            for mut g in row_gradients(&w, &poisson_sample(n, q, &mut rng)) {
                clip(&mut g, self.clip_norm);
                sum.iter_mut().zip(&g).for_each(|(s, gi)| *s += gi);
            }
            if self.noise_multiplier > 0.0 {
                add_noise(&mut sum, self.noise_multiplier * self.clip_norm, &mut rng)?;
            }
            let scale = self.learning_rate / (q * n as f64);
            w.iter_mut().zip(&sum).for_each(|(wi, s)| *wi -= scale * s);
            if (step + 1) % per_epoch == 0 || step + 1 == steps {
                progress((((step + 1) / per_epoch) as usize).min(self.epochs), self.epochs)?;
            }
        }
        if w.iter().any(|v| !v.is_finite()) {
            return Err(DpError::field("learning_rate", "training diverged; lower the learning rate").into());
        }
        Ok(w)
    }

    /// Multinomial logistic regression (intercepts and coefficients as `Fitted::Logistic`) by
    /// DP-SGD on the mean cross-entropy.
    pub fn logistic(&self, x: &Array2<f64>, y: &[usize], classes: usize) -> Result<Fitted, DpError> {
        self.logistic_with(x, y, classes, |_, _| Ok(()))
    }

    /// `logistic`, reporting each epoch to `progress`.
    pub fn logistic_with<E: From<DpError>>(
        &self,
        x: &Array2<f64>,
        y: &[usize],
        classes: usize,
        progress: impl FnMut(usize, usize) -> Result<(), E>,
    ) -> Result<Fitted, E> {
        let d = x.ncols();
        let gradients = |w: &[f64], rows: &[usize]| {
            rows.iter()
                .map(|&i| {
                    let row = x.row(i);
                    let mut z: Vec<f64> = (0..classes)
                        .map(|c| w[c] + row.iter().enumerate().map(|(j, v)| v * w[classes + j * classes + c]).sum::<f64>())
                        .collect();
                    softmax(&mut z);
                    let mut g = vec![0.0; w.len()];
                    for c in 0..classes {
                        let err = z[c] - f64::from(u8::from(y[i] == c));
                        g[c] = err;
                        for (j, v) in row.iter().enumerate() {
                            g[classes + j * classes + c] = err * v;
                        }
                    }
                    g
                })
                .collect()
        };
        let w = self.run(x.nrows(), vec![0.0; (d + 1) * classes], gradients, progress)?;
        Ok(Fitted::Logistic { classes, intercept: w[..classes].to_vec(), coef: w[classes..].to_vec() })
    }

    /// A multilayer perceptron of layer widths `sizes` (inputs first, one output per class),
    /// from `start`, by DP-SGD on the mean softmax cross-entropy; each row's gradient is its
    /// own backward pass, since clipping needs it alone.
    pub fn network<E: From<DpError>>(
        &self,
        x: &Array2<f64>,
        y: &[usize],
        sizes: &[usize],
        start: Network,
        progress: impl FnMut(usize, usize) -> Result<(), E>,
    ) -> Result<Network, E> {
        let gradients = |w: &[f64], rows: &[usize]| {
            let Some(net) = Network::from_flat(sizes, w) else {
                return Vec::new();
            };
            rows.iter()
                .map(|&i| {
                    let acts = net.forward_all(&x.select(Axis(0), &[i]));
                    let mut out = acts.last().cloned().unwrap_or_else(|| Array2::zeros((1, 0)));
                    if let Some(z) = out.as_slice_mut() {
                        softmax(z);
                        if let Some(t) = z.get_mut(y[i]) {
                            *t -= 1.0;
                        }
                    }
                    net.gradients(&acts, out).into_iter().flat_map(|(gw, gb)| gw.into_iter().chain(gb)).collect()
                })
                .collect()
        };
        let w = self.run(x.nrows(), start.flat(), gradients, progress)?;
        Network::from_flat(sizes, &w).ok_or_else(|| DpError::field("model", "the network's shape changed during training").into())
    }
}

/// Fits `model` on `x`, `y` by DP-SGD: logistic regression's coefficients, or the `dqn`
/// kind's network as a plain classifier (softmax cross-entropy). The DQN's own
/// reinforcement-learning settings are not used: its replay buffer reuses rows at random, which
/// the sampled Gaussian's accounting does not cover. Other kinds have no DP variant.
pub fn fit(model: &mut AnyModel, x: &Array2<f64>, y: &Target, settings: &DpSgd, monitor: &mut dyn Monitor) -> Result<(), MlError> {
    let Target::Classes { y, classes } = y else {
        return Err(MlError::param("target", "differential privacy trains classifiers here; the target is numeric"));
    };
    if x.nrows() == 0 || x.nrows() != y.len() {
        return Err(MlError::Shape(format!("{} rows of features, {} targets", x.nrows(), y.len())));
    }
    let progress = |done: usize, total: usize| {
        monitor.step(done, total, None);
        if monitor.cancelled() {
            Err(MlError::Cancelled)
        } else {
            Ok(())
        }
    };
    match model {
        AnyModel::Logistic(m) => m.fitted = Some(settings.logistic_with(x, y, *classes, progress)?),
        AnyModel::Dqn(m) => {
            let mut sizes = vec![x.ncols()];
            sizes.extend(&m.params.hidden);
            sizes.push(*classes);
            let start = Network::initial(&sizes, settings.seed);
            m.network = Some(settings.network(x, y, &sizes, start, progress)?);
        }
        other => {
            return Err(MlError::param(
                "model.kind",
                format!("{} has no differentially private training here; choose logistic or dqn", other.kind().label()),
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_bounds_the_norm_and_leaves_short_gradients_alone() {
        let mut long = vec![3.0, 4.0];
        assert_eq!(clip(&mut long, 1.0), 5.0);
        assert!((long.iter().map(|g| g * g).sum::<f64>().sqrt() - 1.0).abs() < 1e-12);
        assert!((long[0] - 0.6).abs() < 1e-12 && (long[1] - 0.8).abs() < 1e-12, "{long:?}");
        let mut short = vec![0.3, 0.4];
        assert!((clip(&mut short, 1.0) - 0.5).abs() < 1e-12);
        assert_eq!(short, vec![0.3, 0.4]);
    }

    #[test]
    fn the_noise_has_the_standard_deviation_asked_for() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut v = vec![0.0; 200_000];
        add_noise(&mut v, 2.5, &mut rng).unwrap();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt();
        assert!(mean.abs() < 0.02 && (std - 2.5).abs() / 2.5 < 0.01, "mean {mean}, std {std}");
    }

    #[test]
    fn poisson_sampling_takes_each_row_with_its_rate() {
        let mut rng = StdRng::seed_from_u64(2);
        let taken: usize = (0..1000).map(|_| poisson_sample(100, 0.1, &mut rng).len()).sum();
        assert!((taken as f64 / 1000.0 - 10.0).abs() < 0.3, "{taken}");
    }

    #[test]
    fn dp_sgd_learns_separable_classes_and_its_schedule_feeds_the_accountant() {
        // Two well-separated classes on one feature; σ = 1 still learns them.
        let x = Array2::from_shape_fn((200, 1), |(i, _)| if i % 2 == 0 { -2.0 - (i % 7) as f64 * 0.1 } else { 2.0 + (i % 5) as f64 * 0.1 });
        let y: Vec<usize> = (0..200).map(|i| i % 2).collect();
        let sgd = DpSgd { clip_norm: 1.0, noise_multiplier: 1.0, batch: 20, epochs: 5, learning_rate: 0.5, seed: 3 };
        let model = sgd.logistic(&x, &y, 2).unwrap();
        let right = model.predict(&x).iter().zip(&y).filter(|(p, t)| **p as usize == **t).count();
        assert!(right >= 190, "{right} of 200");
        let (q, steps) = sgd.schedule(200);
        assert_eq!((q, steps), (0.1, 50));
        let eps = super::super::accountant::epsilon(q, 1.0, steps, 1e-5).unwrap();
        assert!(eps > 0.5 && eps < 10.0, "{eps}");
        let bad = DpSgd { clip_norm: 0.0, ..sgd };
        assert_eq!(bad.logistic(&x, &y, 2).unwrap_err().field_name(), "clip_norm");
    }
}
