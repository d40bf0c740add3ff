//! Cross-validation splits: plain k-fold (regression) and stratified k-fold (classification),
//! shuffled with a seed so a job's folds are reproducible. Fold sizes follow scikit-learn: the
//! first `n % k` folds get one row more.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::MlError;

/// One fold: the rows to fit on and the rows to score.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fold {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

fn check(n: usize, k: usize) -> Result<(), MlError> {
    if k < 2 {
        return Err(MlError::Parameter(format!("cross-validation needs at least 2 folds, got {k}")));
    }
    if n < k {
        return Err(MlError::Parameter(format!("{k} folds need at least {k} rows; the data has {n}")));
    }
    Ok(())
}

fn folds_from(assignment: &[usize], k: usize) -> Vec<Fold> {
    (0..k)
        .map(|f| {
            let (test, train): (Vec<usize>, Vec<usize>) = (0..assignment.len()).partition(|i| assignment[*i] == f);
            Fold { train, test }
        })
        .collect()
}

/// `k` folds over `n` rows, shuffled by `seed`.
pub fn k_fold(n: usize, k: usize, seed: u64) -> Result<Vec<Fold>, MlError> {
    check(n, k)?;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let mut assignment = vec![0; n];
    let mut start = 0;
    for f in 0..k {
        let size = n / k + usize::from(f < n % k);
        for i in &order[start..start + size] {
            assignment[*i] = f;
        }
        start += size;
    }
    Ok(folds_from(&assignment, k))
}

/// `k` folds that each hold every class in about its overall proportion: the rows of each
/// class are shuffled by `seed`, laid end to end class after class, and dealt to the folds in
/// turn. A class with fewer rows than folds is an error, as in scikit-learn.
pub fn stratified_k_fold(classes: &[usize], k: usize, seed: u64) -> Result<Vec<Fold>, MlError> {
    check(classes.len(), k)?;
    let n_classes = classes.iter().max().map_or(0, |m| m + 1);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut dealt = Vec::with_capacity(classes.len());
    for c in 0..n_classes {
        let mut rows: Vec<usize> = (0..classes.len()).filter(|i| classes[*i] == c).collect();
        if !rows.is_empty() && rows.len() < k {
            return Err(MlError::Parameter(format!("class {c} has {} rows, fewer than the {k} folds; use fewer folds", rows.len())));
        }
        rows.shuffle(&mut rng);
        dealt.extend(rows);
    }
    let mut assignment = vec![0; classes.len()];
    for (pos, i) in dealt.iter().enumerate() {
        assignment[*i] = pos % k;
    }
    Ok(folds_from(&assignment, k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_row_tested_once(folds: &[Fold], n: usize) {
        let mut seen = vec![0; n];
        for f in folds {
            for i in &f.test {
                seen[*i] += 1;
            }
            assert_eq!(f.train.len() + f.test.len(), n);
            assert!(f.train.iter().all(|i| !f.test.contains(i)));
        }
        assert!(seen.iter().all(|s| *s == 1));
    }

    #[test]
    fn k_fold_sizes_and_reproducibility() {
        let folds = k_fold(11, 3, 0).unwrap();
        every_row_tested_once(&folds, 11);
        assert_eq!(folds.iter().map(|f| f.test.len()).collect::<Vec<_>>(), vec![4, 4, 3]);
        assert_eq!(folds, k_fold(11, 3, 0).unwrap());
        assert_ne!(folds, k_fold(11, 3, 1).unwrap());
        assert!(k_fold(3, 5, 0).is_err());
        assert!(k_fold(10, 1, 0).is_err());
    }

    #[test]
    fn stratified_folds_keep_class_proportions() {
        // 50 / 30 / 20 rows of three classes into 5 folds: 10 / 6 / 4 of each in every fold.
        let classes: Vec<usize> = (0..100)
            .map(|i| {
                if i < 50 {
                    0
                } else if i < 80 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let folds = stratified_k_fold(&classes, 5, 0).unwrap();
        every_row_tested_once(&folds, 100);
        for f in &folds {
            let count = |c| f.test.iter().filter(|i| classes[**i] == c).count();
            assert_eq!((count(0), count(1), count(2)), (10, 6, 4));
        }
        let rare: Vec<usize> = (0..20).map(|i| usize::from(i < 3)).collect();
        assert!(stratified_k_fold(&rare, 5, 0).unwrap_err().to_string().contains("fewer than the 5 folds"));
    }
}
