//! Model quality against scikit-learn 1.9 on the shared datasets, 5-fold cross-validation,
//! shuffled with seed 0 (stratified for classification). The reference figures are the
//! issue's: iris logistic accuracy 0.960, diabetes linear R² 0.489. The bar is 2 points.
//! Fold assignment cannot match numpy's shuffle exactly, so small differences are expected.

use app::ml::forest::{Forest, ForestParams};
use app::ml::linear::{fit_linear, fit_logistic, Fitted};
use app::ml::metrics::{classification, regression, Metrics};
use app::ml::prep::Preprocessor;
use app::ml::split::{k_fold, stratified_k_fold};
use app::ml::task::Target;
use app::ml::task::Task;
use app::ml::train::{target_labels, target_of, TrainSpec};
use app::table::{Format, ParseOptions, Table};

fn table(name: &str) -> Table {
    let bytes = std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    Table::parse(&bytes, Format::Csv, &ParseOptions::default()).unwrap()
}

/// The class labels and each row's class, read as training reads them (`ml::train`).
fn class_target(t: &Table, target: &str) -> (Vec<String>, Vec<usize>) {
    let c = t.column_index(target).unwrap();
    let labels = target_labels(&[t], c, true, target).unwrap().unwrap();
    match target_of(t, c, Some(&labels)) {
        (rows, Target::Classes { y, .. }) if rows.len() == t.len() => (labels, y),
        other => panic!("every row has a class: {other:?}"),
    }
}

/// Each row's value of a numeric target, read as training reads it.
fn numeric_target(t: &Table, target: &str) -> Vec<f64> {
    match target_of(t, t.column_index(target).unwrap(), None) {
        (rows, Target::Values(y)) if rows.len() == t.len() => y,
        other => panic!("every row has a value: {other:?}"),
    }
}

fn features(t: &Table, target: &str) -> Vec<String> {
    t.columns.iter().map(|c| c.name.clone()).filter(|n| n != target).collect()
}

/// Mean 5-fold stratified CV accuracy (and each fold's) of logistic regression with the
/// defaults a job uses (alpha 1, 200 iterations); `check` sees each fold's model.
fn logistic_cv(t: &Table, target: &str, check: impl Fn(&Fitted)) -> (f64, Vec<f64>) {
    let (labels, y) = class_target(t, target);
    let feats = features(t, target);
    let mut accuracies = Vec::new();
    for fold in stratified_k_fold(&y, 5, 0).unwrap() {
        let prep = Preprocessor::fit(t, &fold.train, &feats).unwrap();
        let ytr: Vec<usize> = fold.train.iter().map(|i| y[*i]).collect();
        let model = fit_logistic(prep.transform(t, &fold.train).unwrap(), &ytr, labels.len(), 1.0, 200, None).unwrap();
        let xte = prep.transform(t, &fold.test).unwrap();
        let proba = model.predict_proba(&xte);
        for row in proba.outer_iter() {
            assert!((row.sum() - 1.0).abs() < 1e-9, "probabilities sum to 1");
        }
        let pred: Vec<usize> = model.predict(&xte).iter().map(|p| *p as usize).collect();
        let truth: Vec<usize> = fold.test.iter().map(|i| y[*i]).collect();
        accuracies.push(classification(&labels, &truth, &pred, None).unwrap().accuracy);
        check(&model);
    }
    (accuracies.iter().sum::<f64>() / accuracies.len() as f64, accuracies)
}

#[test]
fn iris_logistic_regression_is_within_two_points_of_scikit_learn() {
    let (mean, accuracies) = logistic_cv(&table("iris.csv"), "species", |model| {
        if let Fitted::Logistic { classes, intercept, coef } = model {
            assert_eq!((*classes, intercept.len(), coef.len()), (3, 3, 12));
            assert_eq!(model.params().len(), 15);
        } else {
            panic!("a logistic model");
        }
    });
    println!("iris, logistic regression, 5-fold stratified CV accuracy: {mean:.3} (scikit-learn 0.960); folds {accuracies:.3?}");
    assert!((mean - 0.960).abs() <= 0.02, "accuracy {mean:.3} is more than 2 points from 0.960");
}

/// The 8×8 handwritten digits scikit-learn ships (`load_digits`: 1,797 rows, 64 pixel
/// columns 0–16, 10 classes), written out as `tests/data/digits.csv`. scikit-learn 1.9,
/// `make_pipeline(StandardScaler(), LogisticRegression())` (C = 1, lbfgs, as our defaults),
/// `StratifiedKFold(5, shuffle=True, random_state=0)`: 0.969. The bar here is 1 point.
/// Two classes (versicolor against virginica, the pair that overlaps) take logistic
/// regression's two-class pass (`linear::binary_block`). scikit-learn 1.9.1, scaled features,
/// `LogisticRegression(C=1.0, max_iter=200)`, the same CV: 0.950.
#[test]
fn two_class_logistic_regression_is_within_two_points_of_scikit_learn() {
    let iris = table("iris.csv");
    let species = iris.column_index("species").unwrap();
    let rows: Vec<usize> = (0..iris.len()).filter(|i| iris.cell(*i, species) != app::table::Cell::Text("setosa".into())).collect();
    let (mean, accuracies) = logistic_cv(&iris.select(&rows), "species", |_| {});
    println!(
        "iris without setosa, logistic regression, 5-fold stratified CV accuracy: {mean:.3} (scikit-learn 0.950); folds {accuracies:.3?}"
    );
    assert!(mean >= 0.93, "{mean}");
}

#[test]
fn digits_logistic_regression_is_within_one_point_of_scikit_learn() {
    let (mean, accuracies) = logistic_cv(&table("digits.csv"), "digit", |_| {});
    println!("digits, logistic regression, 5-fold stratified CV accuracy: {mean:.3} (scikit-learn 0.969); folds {accuracies:.3?}");
    assert!(mean >= 0.969 - 0.01, "accuracy {mean:.3} is more than 1 point below scikit-learn's 0.969");
}

#[test]
fn diabetes_linear_regression_is_within_two_points_of_scikit_learn() {
    let t = table("diabetes.csv");
    let y: Vec<f64> = numeric_target(&t, "progression");
    let feats = features(&t, "progression");
    let mut r2s = Vec::new();
    for fold in k_fold(t.len(), 5, 0).unwrap() {
        let prep = Preprocessor::fit(&t, &fold.train, &feats).unwrap();
        let ytr: Vec<f64> = fold.train.iter().map(|i| y[*i]).collect();
        let model = fit_linear(prep.transform(&t, &fold.train).unwrap(), ytr).unwrap();
        let pred = model.predict(&prep.transform(&t, &fold.test).unwrap());
        let truth: Vec<f64> = fold.test.iter().map(|i| y[*i]).collect();
        r2s.push(regression(&truth, &pred).unwrap().r2);
        assert_eq!(model.params().len(), 11);
    }
    let mean = r2s.iter().sum::<f64>() / r2s.len() as f64;
    println!("diabetes, linear regression, 5-fold CV R²: {mean:.3} (scikit-learn 0.489); folds {r2s:.3?}");
    assert!((mean - 0.489).abs() <= 0.02, "R² {mean:.3} is more than 2 points from 0.489");
}

#[test]
fn a_categorical_target_is_refused_for_regression_and_a_one_class_target_for_classification() {
    let t = table("iris.csv");
    let linear: TrainSpec = serde_json::from_str(r#"{"target": "species", "model": {"kind": "linear"}}"#).unwrap();
    let e = linear.check(&t.columns, 1).unwrap_err();
    assert_eq!(e.field, "model.kind");
    assert!(e.message.contains("categorical"), "{}", e.message);
    let one = Table::parse(b"x,y\n1,a\n2,a\n", Format::Csv, &ParseOptions::default()).unwrap();
    assert!(target_labels(&[&one], 1, true, "y").unwrap_err().to_string().contains("two classes"));
}

/// A federated round continues from the global model: starting from converged weights, one
/// more iteration stays where it started, while one iteration from zero is far away.
#[test]
fn logistic_regression_continues_from_given_weights() {
    let t = table("iris.csv");
    let (labels, y) = class_target(&t, "species");
    let rows: Vec<usize> = (0..t.len()).collect();
    let prep = Preprocessor::fit(&t, &rows, &features(&t, "species")).unwrap();
    let x = prep.transform(&t, &rows).unwrap();
    let converged = fit_logistic(x.clone(), &y, labels.len(), 1.0, 500, None).unwrap();
    let continued = fit_logistic(x.clone(), &y, labels.len(), 1.0, 1, Some(&converged)).unwrap();
    let cold = fit_logistic(x.clone(), &y, labels.len(), 1.0, 1, None).unwrap();
    let distance = |a: &Fitted, b: &Fitted| a.params().iter().zip(b.params()).map(|(p, q)| (p - q).powi(2)).sum::<f64>().sqrt();
    assert!(distance(&continued, &converged) < 1e-2, "warm start moved {}", distance(&continued, &converged));
    assert!(distance(&cold, &converged) > 1.0, "one cold iteration is {} from converged", distance(&cold, &converged));
    let wrong = Fitted::Logistic { classes: 2, intercept: vec![0.0; 2], coef: vec![0.0; 8] };
    assert!(fit_logistic(x, &y, labels.len(), 1.0, 1, Some(&wrong)).is_err());
}

/// Encrypted prediction's integer model (docs/he.md) against the float model, 5-fold CV (the
/// folds above): iris logistic accuracy and diabetes linear R² at several bit widths, the
/// server's default (8-bit inputs over ±4, 10-bit weights) within 1 point / 0.01 of the float
/// model. Printed with `--nocapture`.
#[test]
fn quantised_models_score_like_the_float_models() {
    use app::he::quant::{QuantModel, QuantSpec};
    let specs = [
        QuantSpec { input_bits: 6, weight_bits: 6, input_range: 4.0 },
        QuantSpec { input_bits: 8, weight_bits: 8, input_range: 4.0 },
        QuantSpec::DEFAULT,
        QuantSpec { input_bits: 12, weight_bits: 12, input_range: 4.0 },
    ];
    let t = table("iris.csv");
    let (labels, y) = class_target(&t, "species");
    let feats = features(&t, "species");
    let mut iris: Vec<(f64, Vec<f64>)> = vec![];
    for fold in stratified_k_fold(&y, 5, 0).unwrap() {
        let prep = Preprocessor::fit(&t, &fold.train, &feats).unwrap();
        let ytr: Vec<usize> = fold.train.iter().map(|i| y[*i]).collect();
        let model = fit_logistic(prep.transform(&t, &fold.train).unwrap(), &ytr, labels.len(), 1.0, 200, None).unwrap();
        let xte = prep.transform(&t, &fold.test).unwrap();
        let truth: Vec<f64> = fold.test.iter().map(|i| y[*i] as f64).collect();
        let right = |pred: &[f64]| pred.iter().zip(&truth).filter(|(p, t)| p == t).count() as f64 / truth.len() as f64;
        let quantised = specs
            .iter()
            .map(|spec| {
                let q = QuantModel::new(&model, prep.width(), *spec).unwrap();
                right(
                    &xte.outer_iter().map(|r| q.predict(&q.scores(&q.quantise_row(r.as_slice().unwrap()).unwrap().0))).collect::<Vec<_>>(),
                )
            })
            .collect();
        iris.push((right(&model.predict(&xte)), quantised));
    }
    let d = table("diabetes.csv");
    let yd: Vec<f64> = numeric_target(&d, "progression");
    let feats = features(&d, "progression");
    let mut diabetes = vec![];
    for fold in k_fold(d.len(), 5, 0).unwrap() {
        let prep = Preprocessor::fit(&d, &fold.train, &feats).unwrap();
        let ytr: Vec<f64> = fold.train.iter().map(|i| yd[*i]).collect();
        let model = fit_linear(prep.transform(&d, &fold.train).unwrap(), ytr).unwrap();
        let xte = prep.transform(&d, &fold.test).unwrap();
        let truth: Vec<f64> = fold.test.iter().map(|i| yd[*i]).collect();
        let quantised = specs
            .iter()
            .map(|spec| {
                let q = QuantModel::new(&model, prep.width(), *spec).unwrap();
                let pred: Vec<f64> =
                    xte.outer_iter().map(|r| q.predict(&q.scores(&q.quantise_row(r.as_slice().unwrap()).unwrap().0))).collect();
                regression(&truth, &pred).unwrap().r2
            })
            .collect();
        diabetes.push((regression(&truth, &model.predict(&xte)).unwrap().r2, quantised));
    }
    let mean =
        |folds: &[(f64, Vec<f64>)], i: Option<usize>| folds.iter().map(|(f, q)| i.map_or(*f, |i| q[i])).sum::<f64>() / folds.len() as f64;
    println!("| data, metric (5-fold CV) | float | 6/6 bits | 8/8 | 8/10 (default) | 12/12 |");
    for (name, folds) in [("iris logistic, accuracy", &iris), ("diabetes linear, R²", &diabetes)] {
        let cells: Vec<String> = (0..specs.len()).map(|i| format!("{:.4}", mean(folds, Some(i)))).collect();
        println!("| {name} | {:.4} | {} |", mean(folds, None), cells.join(" | "));
    }
    assert!((mean(&iris, Some(2)) - mean(&iris, None)).abs() <= 0.01, "iris: {iris:?}");
    assert!((mean(&diabetes, Some(2)) - mean(&diabetes, None)).abs() <= 0.01, "diabetes: {diabetes:?}");
}

/// Random forests of 100 trees: iris accuracy and diabetes R² beside scikit-learn's
/// RandomForestClassifier / RandomForestRegressor defaults (0.940 and 0.419).
#[test]
fn random_forests_are_within_two_points_of_scikit_learn() {
    let t = table("iris.csv");
    let (labels, y) = class_target(&t, "species");
    let yf: Vec<f64> = y.iter().map(|c| *c as f64).collect();
    let feats = features(&t, "species");
    let mut acc = Vec::new();
    for fold in stratified_k_fold(&y, 5, 0).unwrap() {
        let prep = Preprocessor::fit(&t, &fold.train, &feats).unwrap();
        let ytr: Vec<f64> = fold.train.iter().map(|i| yf[*i]).collect();
        let forest =
            Forest::fit(&prep.transform(&t, &fold.train).unwrap(), &ytr, Task::Classification { classes: 3 }, &ForestParams::default())
                .unwrap();
        let pred: Vec<usize> = forest.predict(&prep.transform(&t, &fold.test).unwrap()).iter().map(|p| *p as usize).collect();
        let truth: Vec<usize> = fold.test.iter().map(|i| y[*i]).collect();
        acc.push(classification(&labels, &truth, &pred, None).unwrap().accuracy);
    }
    let mean_acc = acc.iter().sum::<f64>() / 5.0;

    let d = table("diabetes.csv");
    let yd: Vec<f64> = numeric_target(&d, "progression");
    let feats = features(&d, "progression");
    let mut r2 = Vec::new();
    for fold in k_fold(d.len(), 5, 0).unwrap() {
        let prep = Preprocessor::fit(&d, &fold.train, &feats).unwrap();
        let ytr: Vec<f64> = fold.train.iter().map(|i| yd[*i]).collect();
        let forest = Forest::fit(&prep.transform(&d, &fold.train).unwrap(), &ytr, Task::Regression, &ForestParams::default()).unwrap();
        let pred = forest.predict(&prep.transform(&d, &fold.test).unwrap());
        let truth: Vec<f64> = fold.test.iter().map(|i| yd[*i]).collect();
        r2.push(regression(&truth, &pred).unwrap().r2);
    }
    let mean_r2 = r2.iter().sum::<f64>() / 5.0;
    println!("iris, random forest (100 trees), 5-fold stratified CV accuracy: {mean_acc:.3} (scikit-learn 0.940); folds {acc:.3?}");
    println!("diabetes, random forest (100 trees), 5-fold CV R²: {mean_r2:.3} (scikit-learn 0.419); folds {r2:.3?}");
    assert!((mean_acc - 0.940).abs() <= 0.02, "accuracy {mean_acc:.3} is more than 2 points from 0.940");
    assert!((mean_r2 - 0.419).abs() <= 0.02, "R² {mean_r2:.3} is more than 2 points from 0.419");
}

fn run(tables: &[&Table], json: serde_json::Value) -> app::ml::train::Trained {
    let spec: app::ml::train::TrainSpec = serde_json::from_value(json).unwrap();
    app::ml::train::train(tables, &spec, &mut app::ml::model::Quiet).unwrap()
}

/// Rows `parity` (0 = even, 1 = odd) of a table: one owner's half.
fn half(t: &Table, parity: usize) -> Table {
    t.select(&(parity..t.len()).step_by(2).collect::<Vec<_>>())
}

/// Ensembles through the whole pipeline (cross-validated, seed 0): soft voting and stacking
/// over logistic regression, a depth-5 tree and a 50-tree forest.
#[test]
fn ensembles_on_iris_and_diabetes() {
    let iris = table("iris.csv");
    let diabetes = table("diabetes.csv");
    for method in ["soft_voting", "stacking"] {
        let c = run(&[&iris], serde_json::json!({"target": "species", "model": {"kind": "ensemble", "params": {"method": method}}}));
        let r =
            run(&[&diabetes], serde_json::json!({"target": "progression", "model": {"kind": "ensemble", "params": {"method": method}}}));
        println!("ensemble ({method}): iris accuracy {:.3}, diabetes R² {:.3}", c.metrics.score(), r.metrics.score());
        assert!(c.metrics.score() >= 0.90, "iris {method}: {}", c.metrics.score());
        assert!(r.metrics.score() >= 0.40, "diabetes {method}: {}", r.metrics.score());
    }
}

/// Two owners, each with half the rows (even / odd), never in one matrix: the joint score
/// beside the single-table score on the same pipeline.
#[test]
fn joint_training_over_two_owners_scores_like_one_table() {
    let iris = table("iris.csv");
    let diabetes = table("diabetes.csv");
    let (ia, ib) = (half(&iris, 0), half(&iris, 1));
    let (da, db) = (half(&diabetes, 0), half(&diabetes, 1));
    let cases = [
        ("iris", "species", "logistic", &iris, &ia, &ib),
        ("iris", "species", "forest", &iris, &ia, &ib),
        ("diabetes", "progression", "linear", &diabetes, &da, &db),
        ("diabetes", "progression", "forest", &diabetes, &da, &db),
    ];
    for (name, target, kind, whole, a, b) in cases {
        let spec = serde_json::json!({"target": target, "model": {"kind": kind}});
        let single = run(&[whole], spec.clone()).metrics.score();
        let joint = run(&[a, b], spec).metrics.score();
        println!("{name}, {kind}: one table {single:.3}, two owners {joint:.3}");
        assert!((single - joint).abs() <= 0.03, "{name} {kind}: {single:.3} vs {joint:.3}");
    }
}

/// An imbalanced set from diabetes: "high" when progression is in the top 4 % (18 of 442
/// rows). The DQN classifier beside logistic regression with and without balanced class
/// weights: F1 of the minority class and G-mean (√(recall_high · recall_low)), 5-fold
/// stratified CV, seed 0.
#[test]
fn dqn_on_an_imbalanced_set_against_logistic_regression() {
    let d = table("diabetes.csv");
    let p = d.column_index("progression").unwrap();
    let mut values: Vec<f64> = d.rows().map(|r| r[p].as_f64().unwrap()).collect();
    values.sort_by(f64::total_cmp);
    let cut = values[values.len() - 18];
    let mut columns = d.columns.clone();
    columns[p] = app::table::Column { name: "high".into(), kind: app::table::ColumnKind::Categorical };
    let rows = d.rows().map(|mut r| {
        let v = r[p].as_f64().unwrap();
        r[p] = app::table::Cell::Text(if v >= cut { "yes" } else { "no" }.into());
        r
    });
    let t = Table::from_rows(columns, rows.collect());
    let minority = t.rows().filter(|r| r[p] == app::table::Cell::Text("yes".into())).count();
    assert!((9..=22).contains(&minority), "{minority} minority rows: 2–5 % of 442");
    let mut report = Vec::new();
    for (name, model) in [
        ("logistic", serde_json::json!({"kind": "logistic"})),
        ("logistic, balanced weights", serde_json::json!({"kind": "logistic", "params": {"class_weight": "balanced"}})),
        ("DQN", serde_json::json!({"kind": "dqn"})),
    ] {
        let out = run(&[&t], serde_json::json!({"target": "high", "model": model}));
        let Metrics::Classification(c) = &out.metrics else { panic!() };
        let yes = c.labels.iter().position(|l| l == "yes").unwrap();
        let (f1, r_yes, r_no) = (c.per_class[yes].f1, c.per_class[yes].recall, c.per_class[1 - yes].recall);
        let g = (r_yes * r_no).sqrt();
        println!("imbalanced diabetes ({minority}/442 high), {name}: minority F1 {f1:.3}, G-mean {g:.3}, recall high {r_yes:.3}, recall low {r_no:.3}");
        report.push((f1, g));
    }
    let (plain, dqn) = (report[0], report[2]);
    assert!(dqn.1 > plain.1 + 0.2, "the DQN's G-mean {:.3} should clearly beat plain logistic's {:.3}", dqn.1, plain.1);
}
