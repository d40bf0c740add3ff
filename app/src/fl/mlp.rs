//! A small neural network (the DQN's multilayer perceptron: ReLU hidden layers, a linear
//! output per class) trained as a classifier by FedAvg: each participant runs plain
//! mini-batch gradient descent on the mean softmax cross-entropy from the global parameters
//! (plus FedProx's pull toward them). Plain SGD, not the DQN's Adam, because only the
//! parameters are averaged: an optimiser's state would not survive the average.

use ndarray::{Array2, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::FlError;
use crate::ml::dqn::Network;

/// One participant's local training.
pub struct LocalSgd<'a> {
    pub sizes: &'a [usize],
    pub epochs: u32,
    pub learning_rate: f64,
    pub batch_size: usize,
    pub mu: f64,
}

fn bad(message: impl Into<String>) -> FlError {
    FlError::Data(message.into())
}

impl LocalSgd<'_> {
    /// The parameters after `epochs` passes over `x`, `y` from `start` (flat, as `Network::flat`).
    pub fn run(&self, x: &Array2<f64>, y: &[usize], start: &[f64], seed: u64) -> Result<Vec<f64>, FlError> {
        let classes = *self.sizes.last().unwrap_or(&0);
        let mut net =
            Network::from_flat(self.sizes, start).ok_or_else(|| bad("the global model does not fit this task's features and classes"))?;
        let global = Network::from_flat(self.sizes, start).ok_or_else(|| bad("the global model does not fit"))?;
        let n = x.nrows();
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let batch = self.batch_size.clamp(1, n.max(1));
        for _ in 0..self.epochs {
            order.shuffle(&mut rng);
            for chunk in order.chunks(batch) {
                let xb = x.select(Axis(0), chunk);
                let acts = net.forward_all(&xb);
                // dLoss/dz of the mean cross-entropy: softmax minus the one-hot target, over the batch.
                let mut grad = acts.last().cloned().unwrap_or_else(|| Array2::zeros((chunk.len(), classes)));
                for (r, mut row) in grad.outer_iter_mut().enumerate() {
                    let max = row.iter().copied().fold(f64::MIN, f64::max);
                    row.mapv_inplace(|v| (v - max).exp());
                    let sum = row.sum();
                    row.mapv_inplace(|v| v / sum);
                    row[y[chunk[r]]] -= 1.0;
                }
                grad /= chunk.len() as f64;
                for (i, (gw, gb)) in net.gradients(&acts, grad).into_iter().enumerate() {
                    let (layer, anchor) = (&mut net.layers[i], &global.layers[i]);
                    ndarray::Zip::from(&mut layer.w).and(&gw).and(&anchor.w).for_each(|p, g, a| {
                        *p -= self.learning_rate * (g + self.mu * (*p - a));
                    });
                    ndarray::Zip::from(&mut layer.b).and(&gb).and(&anchor.b).for_each(|p, g, a| {
                        *p -= self.learning_rate * (g + self.mu * (*p - a));
                    });
                }
            }
        }
        let flat = net.flat();
        if flat.iter().any(|v| !v.is_finite()) {
            return Err(bad("local training diverged; lower the federation's learning rate"));
        }
        Ok(flat)
    }
}
