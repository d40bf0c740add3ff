//! A deep Q-network classifier for imbalanced classes, after Lin, Chen & Qi (2020), "Deep
//! reinforcement learning for imbalanced classification". Classification is a game: each
//! step shows the agent one training row (the state), its action is a label, and the reward is
//! ±1 for a row of the rarest class and ±λ for the others, λ = n_rarest / n_class, so getting
//! the rare class right or wrong counts as much as the whole majority does. An episode ends
//! when a row of the rarest class is misclassified. The agent learns Q(row, label) with a small
//! MLP, experience replay and a target network; it predicts the label of highest Q.
//!
//! The network is written here (a few dozen lines of dense layers and Adam) because linfa has
//! no neural networks and the crates that do pull in far more than a small MLP needs, and must
//! also build for wasm (federated clients run this same code).

use linfa::ParamGuard;
use ndarray::{Array1, Array2, Axis};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::{check_cancel, AnyModel, Model, Monitor};
use super::task::Target;
use super::MlError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DqnParams {
    /// Widths of the hidden layers (ReLU).
    pub hidden: Vec<usize>,
    /// Passes over the training rows.
    pub epochs: usize,
    pub learning_rate: f64,
    /// Discount; the paper uses 0.1, since a row's label says little about the next row's.
    pub gamma: f64,
    pub batch_size: usize,
    pub replay_size: usize,
    /// Steps between copies of the online network into the target network.
    pub target_update: usize,
    /// Exploration falls linearly from `epsilon_start` to `epsilon_end` over the first half.
    pub epsilon_start: f64,
    pub epsilon_end: f64,
    pub seed: u64,
}

impl Default for DqnParams {
    fn default() -> Self {
        DqnParams {
            hidden: vec![32, 32],
            epochs: 15,
            learning_rate: 1e-3,
            gamma: 0.1,
            batch_size: 32,
            replay_size: 20_000,
            target_update: 250,
            epsilon_start: 1.0,
            epsilon_end: 0.05,
            seed: 0,
        }
    }
}

super::param_guard!(DqnParams, |p| {
    if p.hidden.is_empty() || p.hidden.iter().any(|h| *h == 0 || *h > 4096) {
        return Err(MlError::param("hidden", "must list 1 or more layer widths between 1 and 4096"));
    }
    for (name, value) in [("epochs", p.epochs), ("batch_size", p.batch_size), ("target_update", p.target_update)] {
        if value == 0 {
            return Err(MlError::param(name, "must be at least 1"));
        }
    }
    if p.replay_size < p.batch_size {
        return Err(MlError::param("replay_size", format!("must be at least batch_size ({})", p.batch_size)));
    }
    if !(p.learning_rate > 0.0 && p.learning_rate < 1.0) {
        return Err(MlError::param("learning_rate", format!("must be between 0 and 1 (exclusive), got {}", p.learning_rate)));
    }
    if !(0.0..1.0).contains(&p.gamma) {
        return Err(MlError::param("gamma", format!("must be in [0, 1), got {}", p.gamma)));
    }
    for (name, value) in [("epsilon_start", p.epsilon_start), ("epsilon_end", p.epsilon_end)] {
        if !(0.0..=1.0).contains(&value) {
            return Err(MlError::param(name, format!("must be in [0, 1], got {value}")));
        }
    }
});

/// A dense layer `out = x · w + b`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    pub w: Array2<f64>,
    pub b: Array1<f64>,
}

/// A multilayer perceptron with ReLU between layers and a linear output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub layers: Vec<Layer>,
}

impl Network {
    /// He-initialised weights, zero biases.
    fn new(sizes: &[usize], rng: &mut StdRng) -> Network {
        let layers = sizes
            .windows(2)
            .map(|w| {
                let scale = (2.0 / w[0] as f64).sqrt();
                Layer {
                    w: Array2::from_shape_fn((w[0], w[1]), |_| (rng.random::<f64>() * 2.0 - 1.0) * scale * 3f64.sqrt() / 2.0),
                    b: Array1::zeros(w[1]),
                }
            })
            .collect();
        Network { layers }
    }

    fn inputs(&self) -> usize {
        self.layers.first().map_or(0, |l| l.w.nrows())
    }

    fn outputs(&self) -> usize {
        self.layers.last().map_or(0, |l| l.w.ncols())
    }

    /// Every layer's output, the input first.
    pub(crate) fn forward_all(&self, x: &Array2<f64>) -> Vec<Array2<f64>> {
        let mut acts = vec![x.clone()];
        for (i, l) in self.layers.iter().enumerate() {
            let mut z = acts[i].dot(&l.w) + &l.b;
            if i + 1 < self.layers.len() {
                z.mapv_inplace(|v| v.max(0.0));
            }
            acts.push(z);
        }
        acts
    }

    pub fn forward(&self, x: &Array2<f64>) -> Array2<f64> {
        self.forward_all(x).pop().unwrap_or_else(|| x.clone())
    }

    /// Backpropagation: each layer's gradients `(dw, db)`, first layer first, from the layer
    /// outputs `acts` (`forward_all`) and `grad`, the loss's gradient at the output.
    pub(crate) fn gradients(&self, acts: &[Array2<f64>], mut grad: Array2<f64>) -> Vec<(Array2<f64>, Array1<f64>)> {
        let mut out = Vec::with_capacity(self.layers.len());
        for i in (0..self.layers.len()).rev() {
            out.push((acts[i].t().dot(&grad), grad.sum_axis(Axis(0))));
            if i > 0 {
                let mut back = grad.dot(&self.layers[i].w.t());
                back.zip_mut_with(&acts[i], |g, a| {
                    if *a <= 0.0 {
                        *g = 0.0;
                    }
                });
                grad = back;
            }
        }
        out.reverse();
        out
    }

    /// The parameters layer by layer: `w` row-major (inputs × outputs), then `b`.
    pub(crate) fn flat(&self) -> Vec<f64> {
        self.layers.iter().flat_map(|l| l.w.iter().chain(l.b.iter()).copied()).collect()
    }

    /// The network of layer widths `sizes` (inputs first) from `flat`'s layout; `None` if
    /// the length does not match.
    pub(crate) fn from_flat(sizes: &[usize], flat: &[f64]) -> Option<Network> {
        if flat.len() != Self::size(sizes) {
            return None;
        }
        let mut at = 0;
        let layers = sizes
            .windows(2)
            .map(|w| {
                let n = w[0] * w[1];
                let weights = Array2::from_shape_vec((w[0], w[1]), flat[at..at + n].to_vec()).ok()?;
                let b = Array1::from(flat[at + n..at + n + w[1]].to_vec());
                at += n + w[1];
                Some(Layer { w: weights, b })
            })
            .collect::<Option<Vec<Layer>>>()?;
        Some(Network { layers })
    }

    /// How many parameters a network of `sizes` has.
    pub(crate) fn size(sizes: &[usize]) -> usize {
        sizes.windows(2).map(|w| (w[0] + 1) * w[1]).sum()
    }

    /// He-initialised (as for the DQN), from `seed`.
    pub(crate) fn initial(sizes: &[usize], seed: u64) -> Network {
        Network::new(sizes, &mut StdRng::seed_from_u64(seed))
    }
}

/// Adam's moment estimates, shaped like the network.
struct Adam {
    m: Network,
    v: Network,
    t: i32,
}

impl Adam {
    fn new(net: &Network) -> Adam {
        let zero =
            Network { layers: net.layers.iter().map(|l| Layer { w: Array2::zeros(l.w.dim()), b: Array1::zeros(l.b.len()) }).collect() };
        Adam { m: zero.clone(), v: zero, t: 0 }
    }

    /// One gradient step of mean squared error on the chosen actions only: `grad_out` holds
    /// dLoss/dQ, zero except at each row's action.
    fn step(&mut self, net: &mut Network, acts: &[Array2<f64>], grad: Array2<f64>, lr: f64) {
        let (b1, b2, eps): (f64, f64, f64) = (0.9, 0.999, 1e-8);
        self.t += 1;
        let (c1, c2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
        for (i, (gw, gb)) in net.gradients(acts, grad).into_iter().enumerate() {
            let (m, v, l) = (&mut self.m.layers[i], &mut self.v.layers[i], &mut net.layers[i]);
            let update = |p: &mut f64, g: f64, m: &mut f64, v: &mut f64| {
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                *p -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
            };
            ndarray::Zip::from(&mut l.w).and(&gw).and(&mut m.w).and(&mut v.w).for_each(|p, g, m, v| update(p, *g, m, v));
            ndarray::Zip::from(&mut l.b).and(&gb).and(&mut m.b).and(&mut v.b).for_each(|p, g, m, v| update(p, *g, m, v));
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DqnModel {
    #[serde(default)]
    pub params: DqnParams,
    #[serde(default)]
    pub network: Option<Network>,
}

/// One remembered step: row, action, reward, next row, whether the episode ended.
type Transition = (usize, usize, f64, usize, bool);

impl DqnModel {
    pub fn flat_params(&self) -> Option<Vec<f64>> {
        self.network.as_ref().map(Network::flat)
    }

    fn net(&self) -> Result<&Network, MlError> {
        self.network.as_ref().ok_or_else(|| MlError::Shape("the model has not been fitted".into()))
    }
}

/// Rewards per class: 1 for the rarest class, n_rarest / n_c for class c.
pub fn class_rewards(y: &[usize], classes: usize) -> Vec<f64> {
    let mut counts = vec![0usize; classes];
    for c in y {
        counts[*c] += 1;
    }
    let rarest = counts.iter().copied().filter(|n| *n > 0).min().unwrap_or(1) as f64;
    counts.iter().map(|n| if *n == 0 { 0.0 } else { rarest / *n as f64 }).collect()
}

impl Model for DqnModel {
    fn fit(&mut self, x: &Array2<f64>, y: &Target, monitor: &mut dyn Monitor) -> Result<(), MlError> {
        self.params.check_ref()?;
        let Target::Classes { y, classes } = y else {
            return Err(MlError::Parameter("the DQN classifier needs a categorical target".into()));
        };
        let (n, d, k) = (x.nrows(), x.ncols(), *classes);
        if n == 0 || n != y.len() {
            return Err(MlError::Shape(format!("{n} rows of features, {} targets", y.len())));
        }
        let p = self.params.clone();
        let mut rng = StdRng::seed_from_u64(p.seed);
        let mut sizes = vec![d];
        sizes.extend(&p.hidden);
        sizes.push(k);
        // Continue from the current network when it has the right shape (a federated round).
        let mut online = match self.network.take() {
            Some(net) if net.inputs() == d && net.outputs() == k && net.layers.len() == sizes.len() - 1 => net,
            _ => Network::new(&sizes, &mut rng),
        };
        let mut target = online.clone();
        let mut adam = Adam::new(&online);
        let lambda = class_rewards(y, k);
        let rarest: Vec<bool> = lambda.iter().map(|l| (*l - 1.0).abs() < 1e-12).collect();
        let total_steps = p.epochs * n;
        let mut replay: Vec<Transition> = Vec::with_capacity(p.replay_size.min(total_steps));
        let mut step = 0usize;
        for epoch in 0..p.epochs {
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut rng);
            let (mut loss_sum, mut loss_n) = (0.0, 0usize);
            for t in 0..n {
                if step.is_multiple_of(256) {
                    check_cancel(monitor)?;
                }
                let s = order[t];
                let explore = (step as f64 / (total_steps as f64 / 2.0)).min(1.0);
                let epsilon = p.epsilon_start + (p.epsilon_end - p.epsilon_start) * explore;
                let action = if rng.random::<f64>() < epsilon {
                    rng.random_range(0..k)
                } else {
                    let q = online.forward(&x.select(Axis(0), &[s]));
                    super::argmax(q.row(0).iter().copied())
                };
                let truth = y[s];
                let reward = if action == truth { lambda[truth] } else { -lambda[truth] };
                let terminal = (action != truth && rarest[truth]) || t + 1 == n;
                let transition = (s, action, reward, order[(t + 1) % n], terminal);
                if replay.len() < p.replay_size {
                    replay.push(transition);
                } else {
                    replay[step % p.replay_size] = transition;
                }
                step += 1;
                if replay.len() >= p.batch_size {
                    let batch: Vec<Transition> = (0..p.batch_size).map(|_| replay[rng.random_range(0..replay.len())]).collect();
                    let states: Vec<usize> = batch.iter().map(|b| b.0).collect();
                    let nexts: Vec<usize> = batch.iter().map(|b| b.3).collect();
                    let q_next = target.forward(&x.select(Axis(0), &nexts));
                    let acts = online.forward_all(&x.select(Axis(0), &states));
                    let q = &acts[acts.len() - 1];
                    let mut grad = Array2::zeros((p.batch_size, k));
                    for (i, (_, a, r, _, done)) in batch.iter().enumerate() {
                        let best_next = q_next.row(i).iter().copied().fold(f64::MIN, f64::max);
                        let goal = r + if *done { 0.0 } else { p.gamma * best_next };
                        let diff = q[[i, *a]] - goal;
                        loss_sum += diff * diff;
                        grad[[i, *a]] = 2.0 * diff / p.batch_size as f64;
                    }
                    loss_n += p.batch_size;
                    adam.step(&mut online, &acts, grad, p.learning_rate);
                }
                if step.is_multiple_of(p.target_update) {
                    target = online.clone();
                }
            }
            let loss = if loss_n > 0 { Some(loss_sum / loss_n as f64) } else { None };
            monitor.step(epoch + 1, p.epochs, loss);
        }
        if online.flat().iter().any(|v| !v.is_finite()) {
            return Err(MlError::Parameter("the DQN diverged; lower learning_rate".into()));
        }
        self.network = Some(online);
        Ok(())
    }

    fn predict(&self, x: &Array2<f64>) -> Result<Vec<f64>, MlError> {
        let q = self.net()?.forward(x);
        Ok(q.outer_iter().map(|r| super::argmax(r.iter().copied()) as f64).collect())
    }

    /// A softmax of the Q-values: ordered like the agent's preference, so usable as a score
    /// (ROC-AUC, voting), but not calibrated probabilities.
    fn predict_proba(&self, x: &Array2<f64>) -> Result<Option<Array2<f64>>, MlError> {
        let mut q = self.net()?.forward(x);
        for mut row in q.outer_iter_mut() {
            let max = row.iter().copied().fold(f64::MIN, f64::max);
            row.mapv_inplace(|v| (v - max).exp());
            let sum = row.sum();
            row.mapv_inplace(|v| v / sum);
        }
        Ok(Some(q))
    }

    fn serialize(&self) -> Result<Value, MlError> {
        Model::serialize(&AnyModel::Dqn(self.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::model::Quiet;
    use ndarray::array;

    #[test]
    fn rewards_follow_the_imbalance_ratio() {
        assert_eq!(class_rewards(&[0, 0, 0, 0, 1], 2), vec![0.25, 1.0]);
        assert_eq!(class_rewards(&[0, 1, 1, 2, 2, 2, 2], 3), vec![1.0, 0.5, 0.25]);
    }

    /// The hand-checked gradient: one linear layer, Q = x·w + b, one row, target 1 for action 0.
    #[test]
    fn one_adam_step_moves_each_parameter_by_the_learning_rate_against_the_gradient() {
        let mut net = Network { layers: vec![Layer { w: array![[0.5, 0.0]], b: array![0.0, 0.0] }] };
        let x = array![[2.0]];
        let acts = net.forward_all(&x);
        // Q[0] = 1.0; goal 0 → dL/dQ0 = 2·(1 − 0) = 2; dL/dw00 = 2·2 = 4, dL/db0 = 2.
        let grad = array![[2.0, 0.0]];
        Adam::new(&net).step(&mut net, &acts, grad, 0.01);
        // Adam's first step moves by lr · sign(g) (bias-corrected m/√v = ±1).
        assert!((net.layers[0].w[[0, 0]] - 0.49).abs() < 1e-6);
        assert!((net.layers[0].b[0] + 0.01).abs() < 1e-6);
        assert_eq!(net.layers[0].w[[0, 1]], 0.0, "an action not taken is not trained");
    }

    #[test]
    fn bad_parameters_are_refused() {
        let x = array![[0.0], [1.0]];
        let y = Target::Classes { y: vec![0, 1], classes: 2 };
        let mut m = DqnModel { params: DqnParams { hidden: vec![], ..DqnParams::default() }, network: None };
        assert!(m.fit(&x, &y, &mut Quiet).unwrap_err().to_string().contains("hidden"));
        m.params = DqnParams { gamma: 1.5, ..DqnParams::default() };
        assert!(m.fit(&x, &y, &mut Quiet).unwrap_err().to_string().contains("gamma"));
    }
}
