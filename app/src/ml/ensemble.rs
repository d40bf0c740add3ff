//! Ensembles over the other kinds: soft voting (the mean of the members' class probabilities,
//! or of their predictions for regression) and stacking (a logistic or linear model fitted on
//! the members' out-of-fold predictions, so it learns how far to trust each member on rows the
//! member did not see).

use ndarray::{concatenate, Array2, Axis};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::model::{check_cancel, AnyModel, Model, ModelKind, Monitor, Quiet};
use super::split::{k_fold, stratified_k_fold};
use super::task::{Target, Task};
use super::MlError;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    #[default]
    SoftVoting,
    Stacking,
}

/// One member: a kind and its hyperparameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSpec {
    pub kind: ModelKind,
    #[serde(default)]
    pub params: Map<String, Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnsembleParams {
    pub method: Combine,
    /// Empty: logistic (or linear) regression, a depth-5 tree and a 50-tree forest.
    pub members: Vec<MemberSpec>,
    /// Folds for the out-of-fold predictions that stacking learns from.
    pub folds: usize,
    pub seed: u64,
}

impl Default for EnsembleParams {
    fn default() -> Self {
        EnsembleParams { method: Combine::SoftVoting, members: Vec::new(), folds: 5, seed: 0 }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnsembleModel {
    #[serde(default)]
    pub params: EnsembleParams,
    #[serde(default)]
    pub members: Vec<AnyModel>,
    #[serde(default)]
    pub meta: Option<Box<AnyModel>>,
    #[serde(default)]
    pub task: Option<Task>,
}

impl EnsembleModel {
    fn specs(&self, task: Task) -> Vec<MemberSpec> {
        if !self.params.members.is_empty() {
            return self.params.members.clone();
        }
        let first = match task {
            Task::Classification { .. } => ModelKind::Logistic,
            Task::Regression => ModelKind::Linear,
        };
        let with = |k: &str, v: u64| {
            let mut m = Map::new();
            m.insert(k.into(), Value::from(v));
            m
        };
        vec![
            MemberSpec { kind: first, params: Map::new() },
            MemberSpec { kind: ModelKind::Tree, params: with("max_depth", 5) },
            MemberSpec { kind: ModelKind::Forest, params: with("trees", 50) },
        ]
    }

    pub(crate) fn build_members(&self, task: Task) -> Result<Vec<AnyModel>, MlError> {
        self.specs(task)
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if s.kind == ModelKind::Ensemble {
                    return Err(MlError::param(format!("members[{i}].kind"), "an ensemble cannot contain another ensemble"));
                }
                AnyModel::build(s.kind, &s.params, task, self.params.seed.wrapping_add(i as u64))
                    .map_err(|e| e.within(&format!("members[{i}]")))
            })
            .collect()
    }

    /// Refuses members that cannot learn `task` or have bad parameters, before any fitting.
    pub fn check(&self, task: Task) -> Result<(), MlError> {
        if self.params.method == Combine::Stacking && !(2..=super::train::MAX_FOLDS).contains(&self.params.folds) {
            let max = super::train::MAX_FOLDS;
            return Err(MlError::param("folds", format!("stacking needs 2 to {max} folds, got {}", self.params.folds)));
        }
        self.build_members(task).map(|_| ())
    }

    /// What the combiner sees of each row: every member's class probabilities side by side, or
    /// every member's prediction.
    fn member_outputs(members: &[AnyModel], x: &Array2<f64>, task: Task) -> Result<Array2<f64>, MlError> {
        let mut parts = Vec::with_capacity(members.len());
        for m in members {
            parts.push(match task {
                Task::Classification { .. } => {
                    m.predict_proba(x)?.ok_or_else(|| MlError::Shape("a member gave no probabilities".into()))?
                }
                Task::Regression => Array2::from_shape_vec((x.nrows(), 1), m.predict(x)?).map_err(|e| MlError::Shape(e.to_string()))?,
            });
        }
        let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
        concatenate(Axis(1), &views).map_err(|e| MlError::Shape(e.to_string()))
    }

    fn task(&self) -> Result<Task, MlError> {
        self.task.ok_or_else(|| MlError::Shape("the model has not been fitted".into()))
    }

    /// The combined output: probabilities (classification) or predictions as one column.
    fn combined(&self, x: &Array2<f64>) -> Result<Array2<f64>, MlError> {
        let task = self.task()?;
        let z = Self::member_outputs(&self.members, x, task)?;
        if let Some(meta) = &self.meta {
            return match task {
                Task::Classification { .. } => meta.predict_proba(&z)?.ok_or_else(|| MlError::Shape("no probabilities".into())),
                Task::Regression => Array2::from_shape_vec((x.nrows(), 1), meta.predict(&z)?).map_err(|e| MlError::Shape(e.to_string())),
            };
        }
        let width = z.ncols() / self.members.len().max(1);
        let mut out = Array2::zeros((x.nrows(), width));
        for m in 0..self.members.len() {
            out += &z.slice_axis(Axis(1), ndarray::Slice::from(m * width..(m + 1) * width));
        }
        Ok(out / self.members.len().max(1) as f64)
    }
}

impl Model for EnsembleModel {
    fn fit(&mut self, x: &Array2<f64>, y: &Target, monitor: &mut dyn Monitor) -> Result<(), MlError> {
        let task = y.task();
        let members = self.build_members(task)?;
        let steps = members.len() * if self.params.method == Combine::Stacking { self.params.folds + 1 } else { 1 };
        let mut done = 0;
        self.meta = None;
        if self.params.method == Combine::Stacking {
            let folds = match y {
                Target::Classes { y, .. } => stratified_k_fold(y, self.params.folds, self.params.seed)?,
                Target::Values(v) => k_fold(v.len(), self.params.folds, self.params.seed)?,
            };
            let width = match task {
                Task::Classification { classes } => classes,
                Task::Regression => 1,
            };
            let mut z = Array2::zeros((x.nrows(), width * members.len()));
            for fold in &folds {
                let xtr = x.select(Axis(0), &fold.train);
                let xte = x.select(Axis(0), &fold.test);
                let mut fitted = members.clone();
                for m in &mut fitted {
                    check_cancel(monitor)?;
                    m.fit(&xtr, &y.subset(&fold.train), &mut Quiet)?;
                    done += 1;
                    monitor.step(done, steps, None);
                }
                let out = Self::member_outputs(&fitted, &xte, task)?;
                for (r, row) in fold.test.iter().zip(out.outer_iter()) {
                    z.row_mut(*r).assign(&row);
                }
            }
            let mut meta = match task {
                Task::Classification { .. } => AnyModel::build(ModelKind::Logistic, &Map::new(), task, 0)?,
                Task::Regression => AnyModel::build(ModelKind::Linear, &Map::new(), task, 0)?,
            };
            meta.fit(&z, y, &mut Quiet)?;
            self.meta = Some(Box::new(meta));
        }
        let mut fitted = members;
        for m in &mut fitted {
            check_cancel(monitor)?;
            m.fit(x, y, &mut Quiet)?;
            done += 1;
            monitor.step(done, steps, None);
        }
        self.members = fitted;
        self.task = Some(task);
        Ok(())
    }

    fn predict(&self, x: &Array2<f64>) -> Result<Vec<f64>, MlError> {
        let out = self.combined(x)?;
        Ok(match self.task()? {
            Task::Regression => out.column(0).to_vec(),
            Task::Classification { .. } => out.outer_iter().map(|r| super::argmax(r.iter().copied()) as f64).collect(),
        })
    }

    fn predict_proba(&self, x: &Array2<f64>) -> Result<Option<Array2<f64>>, MlError> {
        Ok(match self.task()? {
            Task::Regression => None,
            Task::Classification { .. } => Some(self.combined(x)?),
        })
    }

    fn serialize(&self) -> Result<Value, MlError> {
        Model::serialize(&AnyModel::Ensemble(self.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// Soft voting is the plain mean of the members' probabilities, checked by hand.
    #[test]
    fn soft_voting_averages_member_probabilities() {
        let x = array![[0.0], [0.1], [0.2], [1.0], [1.1], [1.2]];
        let y = Target::Classes { y: vec![0, 0, 0, 1, 1, 1], classes: 2 };
        let params: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "members": [{"kind": "logistic"}, {"kind": "tree"}]
        }))
        .unwrap();
        let mut e = AnyModel::build(ModelKind::Ensemble, &params, y.task(), 0).unwrap();
        e.fit(&x, &y, &mut Quiet).unwrap();
        let AnyModel::Ensemble(inner) = &e else { panic!() };
        let a = inner.members[0].predict_proba(&x).unwrap().unwrap();
        let b = inner.members[1].predict_proba(&x).unwrap().unwrap();
        let p = e.predict_proba(&x).unwrap().unwrap();
        for i in 0..6 {
            for k in 0..2 {
                assert!((p[[i, k]] - (a[[i, k]] + b[[i, k]]) / 2.0).abs() < 1e-12);
            }
        }
    }

    /// Stacking learns to follow the member that is right: y equals feature 0 exactly, so the
    /// meta model leans on the linear member and beats the depth-1 tree by far.
    #[test]
    fn stacking_weights_the_better_member() {
        let x = Array2::from_shape_fn((40, 1), |(i, _)| i as f64);
        let y = Target::Values((0..40).map(|i| i as f64).collect());
        let params: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "method": "stacking", "members": [{"kind": "linear"}, {"kind": "tree", "params": {"max_depth": 1}}]
        }))
        .unwrap();
        let mut e = AnyModel::build(ModelKind::Ensemble, &params, y.task(), 0).unwrap();
        e.fit(&x, &y, &mut Quiet).unwrap();
        let AnyModel::Ensemble(inner) = &e else { panic!() };
        let Some(AnyModel::Linear(meta)) = inner.meta.as_deref() else { panic!("a linear meta model") };
        let w = meta.fitted.as_ref().unwrap().params();
        assert!(w[1] > 0.9 && w[2].abs() < 0.1, "meta weights {w:?}");
        let pred = e.predict(&x).unwrap();
        assert!(pred.iter().zip(0..40).all(|(p, t)| (p - t as f64).abs() < 0.5));
        let nested: Map<String, Value> = serde_json::from_value(serde_json::json!({"members": [{"kind": "ensemble"}]})).unwrap();
        assert!(AnyModel::build(ModelKind::Ensemble, &nested, y.task(), 0).is_err());
    }
}
