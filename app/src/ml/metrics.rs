//! Model quality: classification (accuracy, precision, recall, F1 per class and macro,
//! confusion matrix, binary ROC-AUC) and regression (R², RMSE, MAE). Definitions follow
//! scikit-learn's, so figures can be compared with it directly; a class that is never
//! predicted has precision 0 (sklearn's `zero_division=0`).

use serde::{Deserialize, Serialize};

use super::MlError;

/// Per-class figures, in the order of `ClassificationReport::labels`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    pub labels: Vec<String>,
    pub accuracy: f64,
    pub precision_macro: f64,
    pub recall_macro: f64,
    pub f1_macro: f64,
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[i][j]`: rows of true class `i` predicted as class `j`.
    pub confusion: Vec<Vec<usize>>,
    /// Binary problems with scores only: the area under the ROC curve for `labels[1]`.
    pub roc_auc: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegressionReport {
    pub r2: f64,
    pub rmse: f64,
    pub mae: f64,
    /// Where the out-of-fold predictions fell against the truth, for the model page's charts;
    /// absent for private and federated models (see [`RegressionFit`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<RegressionFit>,
}

/// Bins of the predicted-vs-actual plane and of the residuals: counts only, never a row's
/// values, because everyone in the area who may see a model sees its figures. Not made for a
/// differentially private model (its guarantee covers the model, not these counts) nor for a
/// federation (the server never has the rows).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegressionFit {
    /// [`FIT_BINS`]` + 1` increasing edges shared by both axes, equal steps from the least to
    /// the greatest actual or predicted value.
    pub edges: Vec<f64>,
    /// `counts[i][j]`: rows whose actual value is in bin `i` and whose prediction is in bin `j`
    /// (bin `i` is `edges[i] ≤ v < edges[i + 1]`, the last bin closed).
    pub counts: Vec<Vec<u64>>,
    /// [`RESIDUAL_BINS`]` + 1` edges of the residuals (prediction − actual), symmetric about 0.
    pub residual_edges: Vec<f64>,
    /// Rows per residual bin.
    pub residual_counts: Vec<u64>,
}

/// Bins per axis of [`RegressionFit::counts`], and of its residual histogram.
pub const FIT_BINS: usize = 10;
pub const RESIDUAL_BINS: usize = 12;

impl RegressionFit {
    /// The bins of out-of-fold predictions `pred` against `truth` (same lengths); `None` for no
    /// rows or a value that is not finite.
    pub fn of(truth: &[f64], pred: &[f64]) -> Option<Self> {
        if truth.is_empty() || truth.len() != pred.len() || truth.iter().chain(pred).any(|v| !v.is_finite()) {
            return None;
        }
        let (lo, hi) = truth.iter().chain(pred).fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
        let hi = if hi > lo { hi } else { lo + 1.0 };
        let edges: Vec<f64> = (0..=FIT_BINS).map(|i| lo + (hi - lo) * i as f64 / FIT_BINS as f64).collect();
        let reach = truth.iter().zip(pred).map(|(t, p)| (p - t).abs()).fold(0.0, f64::max);
        let reach = if reach > 0.0 { reach } else { 1.0 };
        let residual_edges: Vec<f64> = (0..=RESIDUAL_BINS).map(|i| -reach + 2.0 * reach * i as f64 / RESIDUAL_BINS as f64).collect();
        let mut counts = vec![vec![0u64; FIT_BINS]; FIT_BINS];
        let mut residual_counts = vec![0u64; RESIDUAL_BINS];
        for (t, p) in truth.iter().zip(pred) {
            counts[bin(&edges, *t)][bin(&edges, *p)] += 1;
            residual_counts[bin(&residual_edges, p - t)] += 1;
        }
        Some(RegressionFit { edges, counts, residual_edges, residual_counts })
    }
}

/// The bin of `v` among equal-width `edges` (values on or past the last edge in the last bin).
fn bin(edges: &[f64], v: f64) -> usize {
    let bins = edges.len() - 1;
    let (lo, hi) = (edges[0], edges[bins]);
    (((v - lo) / (hi - lo) * bins as f64).floor().max(0.0) as usize).min(bins - 1)
}

/// A model's figures, by task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum Metrics {
    Classification(ClassificationReport),
    Regression(RegressionReport),
}

impl Metrics {
    /// The figure models are ranked by: accuracy or R².
    pub fn score(&self) -> f64 {
        match self {
            Metrics::Classification(c) => c.accuracy,
            Metrics::Regression(r) => r.r2,
        }
    }

    /// The score as people read it: "accuracy 0.953", "R² 0.487".
    pub fn describe(&self) -> String {
        format!("{} {:.3}", if self.score_name() == "r2" { "R²" } else { "accuracy" }, self.score())
    }

    pub fn score_name(&self) -> &'static str {
        match self {
            Metrics::Classification(_) => "accuracy",
            Metrics::Regression(_) => "r2",
        }
    }
}

fn check_lengths(a: usize, b: usize) -> Result<(), MlError> {
    if a != b {
        return Err(MlError::Shape(format!("{a} true values but {b} predictions")));
    }
    if a == 0 {
        return Err(MlError::Shape("no rows to score".into()));
    }
    Ok(())
}

/// Scores class predictions `pred` against `truth`, both indices into `labels`.
/// `positive_scores`, for two classes, is each row's score for `labels[1]` (for ROC-AUC).
pub fn classification(
    labels: &[String],
    truth: &[usize],
    pred: &[usize],
    positive_scores: Option<&[f64]>,
) -> Result<ClassificationReport, MlError> {
    check_lengths(truth.len(), pred.len())?;
    let k = labels.len();
    if let Some(bad) = truth.iter().chain(pred).find(|c| **c >= k) {
        return Err(MlError::Shape(format!("class index {bad} but only {k} labels")));
    }
    let mut confusion = vec![vec![0usize; k]; k];
    for (t, p) in truth.iter().zip(pred) {
        confusion[*t][*p] += 1;
    }
    let roc_auc = match positive_scores {
        Some(scores) if k == 2 => {
            check_lengths(truth.len(), scores.len())?;
            roc_auc(&truth.iter().map(|t| *t == 1).collect::<Vec<_>>(), scores)
        }
        _ => None,
    };
    from_confusion(labels, confusion, roc_auc)
}

/// The report of a confusion matrix (`confusion[true][predicted]` counts): what federated
/// evaluation can aggregate, since counts add up across participants (ROC-AUC, which needs
/// every score's rank, cannot).
pub fn from_confusion(labels: &[String], confusion: Vec<Vec<usize>>, roc_auc: Option<f64>) -> Result<ClassificationReport, MlError> {
    let k = labels.len();
    if confusion.len() != k || confusion.iter().any(|r| r.len() != k) {
        return Err(MlError::Shape(format!("a confusion matrix of {k} classes is {k}×{k}")));
    }
    let total: usize = confusion.iter().flatten().sum();
    if total == 0 {
        return Err(MlError::Shape("no rows to score".into()));
    }
    let correct: usize = (0..k).map(|i| confusion[i][i]).sum();
    let per_class: Vec<ClassMetrics> = (0..k)
        .map(|i| {
            let tp = confusion[i][i] as f64;
            let predicted: usize = (0..k).map(|r| confusion[r][i]).sum();
            let support: usize = confusion[i].iter().sum();
            let precision = if predicted == 0 { 0.0 } else { tp / predicted as f64 };
            let recall = if support == 0 { 0.0 } else { tp / support as f64 };
            let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
            ClassMetrics { label: labels[i].clone(), precision, recall, f1, support }
        })
        .collect();
    let mean = |f: fn(&ClassMetrics) -> f64| per_class.iter().map(f).sum::<f64>() / k.max(1) as f64;
    Ok(ClassificationReport {
        labels: labels.to_vec(),
        accuracy: correct as f64 / total as f64,
        precision_macro: mean(|c| c.precision),
        recall_macro: mean(|c| c.recall),
        f1_macro: mean(|c| c.f1),
        per_class,
        confusion,
        roc_auc,
    })
}

/// Area under the ROC curve by the rank statistic (Mann–Whitney U), ties counted half, as
/// sklearn's `roc_auc_score`. `None` when only one class is present.
pub fn roc_auc(positive: &[bool], scores: &[f64]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|a, b| scores[*a].total_cmp(&scores[*b]));
    // Average ranks (1-based) over ties.
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for o in &order[i..=j] {
            ranks[*o] = avg;
        }
        i = j + 1;
    }
    let n_pos = positive.iter().filter(|p| **p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let rank_sum: f64 = positive.iter().zip(&ranks).filter(|(p, _)| **p).map(|(_, r)| r).sum();
    Some((rank_sum - (n_pos * (n_pos + 1)) as f64 / 2.0) / (n_pos * n_neg) as f64)
}

pub fn regression(truth: &[f64], pred: &[f64]) -> Result<RegressionReport, MlError> {
    check_lengths(truth.len(), pred.len())?;
    let n = truth.len() as f64;
    let mean = truth.iter().sum::<f64>() / n;
    let ss_res: f64 = truth.iter().zip(pred).map(|(t, p)| (t - p).powi(2)).sum();
    let ss_tot: f64 = truth.iter().map(|t| (t - mean).powi(2)).sum();
    let mae = truth.iter().zip(pred).map(|(t, p)| (t - p).abs()).sum::<f64>() / n;
    Ok(regression_from_sums(n, ss_res, ss_tot, mae))
}

/// The report from sums that add up across participants: `n` rows, the residual and total
/// sums of squares, and the mean absolute error.
pub fn regression_from_sums(n: f64, ss_res: f64, ss_tot: f64, mae: f64) -> RegressionReport {
    // sklearn: a constant target scores 1 when predicted exactly, else 0.
    let r2 = if ss_tot == 0.0 {
        if ss_res == 0.0 {
            1.0
        } else {
            0.0
        }
    } else {
        1.0 - ss_res / ss_tot
    };
    RegressionReport { r2, rmse: (ss_res / n).sqrt(), mae, fit: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// Worked by hand: 3 classes, 8 rows.
    ///   truth: a a a b b c c c    pred: a a b b c c c a
    ///   confusion [[2,1,0],[0,1,1],[1,0,2]]
    ///   precision a 2/3, b 1/2, c 2/3; recall a 2/3, b 1/2, c 2/3; accuracy 5/8.
    #[test]
    fn three_classes_by_hand() {
        let r = classification(&labels(&["a", "b", "c"]), &[0, 0, 0, 1, 1, 2, 2, 2], &[0, 0, 1, 1, 2, 2, 2, 0], None).unwrap();
        assert_eq!(r.confusion, vec![vec![2, 1, 0], vec![0, 1, 1], vec![1, 0, 2]]);
        assert_eq!(r.accuracy, 5.0 / 8.0);
        let p: Vec<f64> = r.per_class.iter().map(|c| c.precision).collect();
        assert_eq!(p, vec![2.0 / 3.0, 0.5, 2.0 / 3.0]);
        assert!((r.f1_macro - (2.0 / 3.0 + 0.5 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert_eq!(r.per_class[1].support, 2);
        assert_eq!(r.roc_auc, None);
    }

    #[test]
    fn a_never_predicted_class_has_zero_precision() {
        let r = classification(&labels(&["no", "yes"]), &[0, 0, 1], &[0, 0, 0], None).unwrap();
        assert_eq!(r.per_class[1].precision, 0.0);
        assert_eq!(r.per_class[1].f1, 0.0);
        assert_eq!(r.recall_macro, 0.5);
    }

    /// sklearn's documented example: roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75.
    #[test]
    fn roc_auc_matches_sklearn_and_counts_ties_half() {
        assert_eq!(roc_auc(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]), Some(0.75));
        assert_eq!(roc_auc(&[false, true], &[0.5, 0.5]), Some(0.5));
        assert_eq!(roc_auc(&[true, true], &[0.1, 0.2]), None);
        let r = classification(&labels(&["0", "1"]), &[0, 0, 1, 1], &[0, 1, 0, 1], Some(&[0.1, 0.4, 0.35, 0.8])).unwrap();
        assert_eq!(r.roc_auc, Some(0.75));
    }

    /// sklearn's r2_score example: y_true [3, -0.5, 2, 7], y_pred [2.5, 0.0, 2, 8] → 0.9486081370449679;
    /// MAE 0.5; MSE 0.375.
    #[test]
    fn regression_matches_sklearn_examples() {
        let r = regression(&[3.0, -0.5, 2.0, 7.0], &[2.5, 0.0, 2.0, 8.0]).unwrap();
        assert!((r.r2 - 0.948_608_137_044_967_9).abs() < 1e-12);
        assert_eq!(r.mae, 0.5);
        assert!((r.rmse - 0.375f64.sqrt()).abs() < 1e-12);
        assert!(regression(&[1.0], &[]).is_err());
    }

    #[test]
    fn a_fit_counts_every_row_once_in_its_bins() {
        let truth = [0.0, 1.0, 2.0, 3.0, 10.0];
        let pred = [0.5, 1.0, 2.5, 2.0, 9.0];
        let f = RegressionFit::of(&truth, &pred).unwrap();
        assert_eq!(f.edges.len(), FIT_BINS + 1);
        assert_eq!((f.edges[0], f.edges[FIT_BINS]), (0.0, 10.0));
        assert_eq!(f.counts.iter().flatten().sum::<u64>(), 5);
        assert_eq!(f.counts[9][9], 1, "10 → 9 is in the last bin of both axes (10 closes it)");
        assert_eq!(f.counts[3][2], 1, "3 → 2");
        assert_eq!(f.residual_counts.iter().sum::<u64>(), 5);
        // Residuals 0.5, 0, 0.5, −1, −1 over ±1 in twelve bins: −1 (twice) in the first.
        assert_eq!(f.residual_counts[0], 2);
        assert_eq!(f.residual_edges[RESIDUAL_BINS / 2], 0.0);
        assert!(RegressionFit::of(&[1.0], &[f64::NAN]).is_none());
        assert!(RegressionFit::of(&[], &[]).is_none());
        let flat = RegressionFit::of(&[2.0, 2.0], &[2.0, 2.0]).unwrap();
        assert_eq!(flat.counts[0][0], 2, "a constant target and perfect predictions: one bin");
    }
}
