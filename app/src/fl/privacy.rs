//! Participant-level differential privacy for a federation's training rounds (DP-FedAvg,
//! McMahan et al. 2018, "Learning Differentially Private Recurrent Language Models"):
//!
//! - each round the server samples every member independently with probability `q`;
//! - a sampled participant trains locally as usual and sends its *update* (its parameters
//!   minus the global ones) clipped to L2 norm `C`, with weight 1 instead of its row count, so
//!   that adding or removing one participant moves the sum by at most `C`;
//! - Gaussian noise of standard deviation `σ·C` is added to the sum: by the server after
//!   unmasking (`central`), or by the participants themselves, each `σ·C/√t` so that any `t`
//!   of them together carry `σ·C` (`distributed`: the server never sees a sum without noise);
//! - the next global model is the old one plus the noisy sum divided by `q·N`, the expected
//!   number of participants (the fixed denominator, so the divisor reveals nothing).
//!
//! Each round is then one use of the sampled Gaussian mechanism with `(q, σ)`, which
//! `dp::accountant` composes.

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::FlError;
use crate::dp::accountant::{self, Accountant};
use crate::dp::sgd::{add_noise, clip};
use crate::dp::{DpError, PrivacySpent};

/// Who adds the noise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseMode {
    /// The server, after unmasking: it sees the exact sum of clipped updates.
    Central,
    /// The participants, each a share: nobody sees a sum without noise.
    Distributed,
}

/// A federation's differential-privacy settings (`FlTask.privacy`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlPrivacy {
    /// `C`: each participant's update is clipped to this L2 norm.
    pub clip_norm: f64,
    /// `σ`: the noise on the sum has standard deviation `σ·C`.
    pub noise_multiplier: f64,
    pub noise: NoiseMode,
    /// `q`: the chance that a member is sampled for a round.
    pub sampling_rate: f64,
    /// The budget: training stops before a round that would take ε above it.
    pub epsilon: f64,
    pub delta: f64,
}

impl FlPrivacy {
    /// Every problem with the settings, as (field under `task.privacy`, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![];
        if !(self.clip_norm.is_finite() && self.clip_norm > 0.0) {
            out.push(("clip_norm", format!("must be above 0, not {}", self.clip_norm)));
        }
        if !(self.noise_multiplier.is_finite() && self.noise_multiplier > 0.0) {
            out.push(("noise_multiplier", format!("must be above 0, not {}", self.noise_multiplier)));
        }
        if !(self.sampling_rate > 0.0 && self.sampling_rate <= 1.0) {
            out.push(("sampling_rate", format!("must be above 0 and at most 1, not {}", self.sampling_rate)));
        }
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            out.push(("epsilon", format!("must be above 0, not {}", self.epsilon)));
        }
        if let Err(e) = accountant::check_delta(self.delta) {
            out.push(("delta", e.message().to_owned()));
        }
        if out.is_empty() {
            match self.epsilon_after(1) {
                Ok(first) if first > self.epsilon => out.push((
                    "epsilon",
                    format!(
                        "one round already spends ε = {first:.3}, above the budget {}; raise the budget or the noise multiplier",
                        self.epsilon
                    ),
                )),
                Ok(_) => {}
                Err(e) => out.push((e.field_name(), e.message().to_owned())),
            }
        }
        out
    }

    /// ε after `rounds` training rounds, for anyone who sees the global models but not who
    /// was sampled (the amplification by sampling holds).
    pub fn epsilon_after(&self, rounds: u64) -> Result<f64, DpError> {
        if rounds == 0 {
            return Ok(0.0);
        }
        accountant::epsilon(self.sampling_rate, self.noise_multiplier, rounds, self.delta)
    }

    /// ε for one participant sampled in `rounds` rounds against someone who knows when it was
    /// sampled (the other participants of those rounds): no amplification, `q = 1`.
    pub fn epsilon_known_sampled(&self, rounds: u64) -> Result<f64, DpError> {
        if rounds == 0 {
            return Ok(0.0);
        }
        accountant::epsilon(1.0, self.noise_multiplier, rounds, self.delta)
    }

    /// Whether one more round would take ε above the budget after `rounds` rounds.
    pub fn budget_allows(&self, rounds: u64) -> Result<bool, DpError> {
        Ok(!Accountant::default().would_exceed(self.sampling_rate, self.noise_multiplier, rounds + 1, self.delta, self.epsilon)?)
    }

    /// The most rounds the budget allows (at most `cap`).
    pub fn rounds_within_budget(&self, cap: u32) -> Result<u32, DpError> {
        let mut n = 0;
        while n < cap && self.budget_allows(u64::from(n))? {
            n += 1;
        }
        Ok(n)
    }

    /// What `rounds` rounds spent, for the model's record.
    pub fn spent(&self, rounds: u64) -> Result<PrivacySpent, DpError> {
        Ok(PrivacySpent {
            epsilon: self.epsilon_after(rounds)?,
            delta: self.delta,
            noise_multiplier: self.noise_multiplier,
            clip_norm: self.clip_norm,
            sampling_rate: self.sampling_rate,
            steps: rounds,
            searched: false,
        })
    }

    /// A participant's vector: its update from `global`, clipped to `C`, with its share of the
    /// noise in distributed mode (`threshold` participants at least will add theirs).
    pub fn participant_update(&self, local: &[f64], global: &[f64], threshold: u16) -> Result<Vec<f64>, FlError> {
        if local.len() != global.len() {
            return Err(FlError::Protocol(format!("an update of {} values from a model of {}", local.len(), global.len())));
        }
        let mut update: Vec<f64> = local.iter().zip(global).map(|(l, g)| l - g).collect();
        clip(&mut update, self.clip_norm);
        if self.noise == NoiseMode::Distributed {
            let std = self.noise_multiplier * self.clip_norm / f64::from(threshold.max(1)).sqrt();
            add_noise(&mut update, std, &mut secure_rng()?).map_err(|e| FlError::Data(e.to_string()))?;
        }
        Ok(update)
    }

    /// The next global parameters from the sum of `participants` updates (the server adds the
    /// central noise first), over `population` members sampled at rate `q`.
    pub fn next_params(&self, global: &[f64], mut sum: Vec<f64>, population: u32) -> Result<Vec<f64>, FlError> {
        if sum.len() != global.len() {
            return Err(FlError::Protocol(format!("a sum of {} values for a model of {}", sum.len(), global.len())));
        }
        if self.noise == NoiseMode::Central {
            add_noise(&mut sum, self.noise_multiplier * self.clip_norm, &mut secure_rng()?).map_err(|e| FlError::Data(e.to_string()))?;
        }
        let expected = (self.sampling_rate * f64::from(population)).max(1.0);
        Ok(global.iter().zip(&sum).map(|(g, s)| g + s / expected).collect())
    }

    /// Which of `members` are sampled this round: each independently with probability `q`.
    pub fn sample(&self, members: &[u16]) -> Result<Vec<u16>, FlError> {
        let mut rng = secure_rng()?;
        Ok(members.iter().copied().filter(|_| rand::Rng::random::<f64>(&mut rng) < self.sampling_rate).collect())
    }
}

/// A generator seeded from the operating system (or the browser's crypto), for noise and
/// sampling that nobody may predict.
fn secure_rng() -> Result<StdRng, FlError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| FlError::Random(e.to_string()))?;
    Ok(StdRng::from_seed(seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(noise: NoiseMode) -> FlPrivacy {
        FlPrivacy { clip_norm: 1.0, noise_multiplier: 1.0, noise, sampling_rate: 1.0, epsilon: 5.0, delta: 1e-5 }
    }

    #[test]
    fn an_update_is_clipped_to_c_before_it_is_sent() {
        let p = settings(NoiseMode::Central);
        let u = p.participant_update(&[3.0, 4.0], &[0.0, 0.0], 3).unwrap();
        assert!(((u[0] * u[0] + u[1] * u[1]).sqrt() - 1.0).abs() < 1e-12, "{u:?}");
        let small = p.participant_update(&[1.1, 1.2], &[1.0, 1.0], 3).unwrap();
        assert!((small[0] - 0.1).abs() < 1e-12 && (small[1] - 0.2).abs() < 1e-12, "{small:?}");
    }

    /// t participants' distributed shares add up to noise of standard deviation σ·C.
    #[test]
    fn distributed_shares_sum_to_the_full_noise() {
        let p = FlPrivacy { noise_multiplier: 2.0, ..settings(NoiseMode::Distributed) };
        let t = 4u16;
        let draws = 20_000;
        let sums: Vec<f64> = (0..draws).map(|_| (0..t).map(|_| p.participant_update(&[0.0], &[0.0], t).unwrap()[0]).sum::<f64>()).collect();
        let mean = sums.iter().sum::<f64>() / draws as f64;
        let std = (sums.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (draws - 1) as f64).sqrt();
        assert!((std - 2.0).abs() / 2.0 < 0.03, "σ·C = 2, measured {std}");
    }

    #[test]
    fn the_budget_stops_before_a_round_that_would_exceed_it() {
        let p = FlPrivacy { sampling_rate: 0.5, noise_multiplier: 2.0, epsilon: 3.0, ..settings(NoiseMode::Central) };
        let n = p.rounds_within_budget(1000).unwrap();
        assert!(n > 1, "{n}");
        assert!(p.epsilon_after(u64::from(n)).unwrap() <= 3.0);
        assert!(p.epsilon_after(u64::from(n) + 1).unwrap() > 3.0);
        let expensive = FlPrivacy { noise_multiplier: 0.3, epsilon: 0.5, ..p.clone() };
        assert_eq!(expensive.problems()[0].0, "epsilon", "one round is over the budget");
        assert!(FlPrivacy { clip_norm: 0.0, ..p }.problems().iter().any(|(f, _)| *f == "clip_norm"));
    }

    #[test]
    fn the_global_step_divides_by_the_expected_participants() {
        let p = FlPrivacy { sampling_rate: 0.5, ..settings(NoiseMode::Distributed) };
        let next = p.next_params(&[1.0, 2.0], vec![2.0, -2.0], 4).unwrap();
        assert_eq!(next, vec![2.0, 1.0], "sum / (q·N) = sum / 2");
    }
}
