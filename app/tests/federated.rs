//! Federated training through the whole secure-aggregation protocol, in process: participants
//! holding parts of iris (logistic regression) and diabetes (linear regression), IID and
//! non-IID, against central training on the same rows, scored on the same held-out rows.

mod support;

use app::fl::fixed::Encoding;
use app::fl::train::{Feature, FlModel, FlTask, GlobalModel};
use app::ml::linear::{fit_linear, fit_logistic};
use app::ml::metrics::{self, Metrics};
use app::ml::prep::Preprocessor;
use app::table::{Format, ParseOptions, Table};

fn table(name: &str) -> Table {
    let bytes = std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    Table::parse(&bytes, Format::Csv, &ParseOptions::default()).unwrap()
}

fn sub(t: &Table, rows: &[usize]) -> Table {
    t.select(rows)
}

/// One secure-aggregation round over `inputs` (each a participant's values and rows): the
/// row-weighted mean, as the server would decode it. Nothing but masked vectors reaches the
/// unmasker, and none of them equals its participant's encoded input.
fn secure_sum(round: u32, encoding: Encoding, inputs: &[(Vec<f64>, u64)]) -> (Vec<f64>, u64) {
    let encoded: Vec<Vec<u64>> = inputs
        .iter()
        .map(|(values, rows)| {
            let e = encoding.encode(values, *rows).unwrap();
            assert_eq!(e.clipped, 0, "nothing clipped");
            e.values
        })
        .collect();
    let (masked, sum) = support::secure_round("quality", round, &encoded);
    for (u, y) in &masked {
        assert_ne!(y, &encoded[usize::from(*u) - 1]);
    }
    encoding.decode(&sum).unwrap()
}

fn secure_mean(round: u32, encoding: Encoding, inputs: &[(Vec<f64>, u64)]) -> Vec<f64> {
    secure_sum(round, encoding, inputs).0
}

/// The global model scored on `test` rows held by `parts` participants, through the
/// protocol, and centrally on the same rows: the two reports.
fn evaluate(task: &FlTask, data: &Table, pre: &Preprocessor, model: &GlobalModel, test: &[usize], parts: usize) -> (Metrics, Metrics) {
    let tables: Vec<Table> = round_robin(test, parts).iter().map(|rows| sub(data, rows)).collect();
    let evals: Vec<(Vec<f64>, u64)> = tables.iter().map(|t| task.evaluation(&task.local(t).unwrap(), pre, model).unwrap()).collect();
    let (means, rows) = secure_sum(999, task.evaluation_encoding(), &evals);
    let federated = task.metrics(&means, rows).unwrap();
    let x = pre.transform(data, test).unwrap();
    let t = data.column_index(&task.target).unwrap();
    let central = match &task.labels {
        Some(labels) => {
            let truth: Vec<usize> =
                test.iter().map(|&r| labels.iter().position(|l| app::table::Cell::Text(l.clone()) == data.cell(r, t)).unwrap()).collect();
            let pred: Vec<usize> = model.predict(&x).iter().map(|p| *p as usize).collect();
            Metrics::Classification(metrics::classification(labels, &truth, &pred, None).unwrap())
        }
        None => {
            let truth: Vec<f64> = test.iter().map(|&r| data.cell(r, t).as_f64().unwrap()).collect();
            Metrics::Regression(metrics::regression(&truth, &model.predict(&x)).unwrap())
        }
    };
    (federated, central)
}

/// Trains `task` federated over `parts` (row indices of `data`) for `rounds` training rounds.
fn federate(task: &FlTask, data: &Table, parts: &[Vec<usize>], rounds: u32) -> (Preprocessor, GlobalModel) {
    let tables: Vec<Table> = parts.iter().map(|rows| sub(data, rows)).collect();
    let locals: Vec<_> = tables.iter().map(|t| task.local(t).unwrap()).collect();
    let moments: Vec<(Vec<f64>, u64)> = locals.iter().map(|l| task.moments(l).unwrap()).collect();
    let pre = task.preprocessor(&secure_mean(0, Encoding::MOMENTS, &moments)).unwrap();
    // A network starts from weights drawn once and published to everyone (the server's job).
    let mut global: Option<GlobalModel> = task.initial_params_from(pre.width(), 11).map(|p| task.global_model(pre.width(), &p).unwrap());
    for r in 1..=rounds {
        let updates: Vec<(Vec<f64>, u64)> = locals
            .iter()
            .enumerate()
            .map(|(i, l)| task.update(l, &pre, global.as_ref(), u64::from(r) * 1000 + i as u64).unwrap())
            .collect();
        global = Some(task.global_model(pre.width(), &secure_mean(r, Encoding::WEIGHTS, &updates)).unwrap());
    }
    (pre, global.unwrap())
}

fn accuracy(model: &GlobalModel, x: &ndarray::Array2<f64>, y: &[usize]) -> f64 {
    model.predict(x).iter().zip(y).filter(|(p, t)| **p as usize == **t).count() as f64 / y.len() as f64
}

fn r2(model: &GlobalModel, x: &ndarray::Array2<f64>, y: &[f64]) -> f64 {
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let (ss_res, ss_tot) = model.predict(x).iter().zip(y).fold((0.0, 0.0), |(r, t), (p, v)| (r + (v - p).powi(2), t + (v - mean).powi(2)));
    1.0 - ss_res / ss_tot
}

/// Every k-th row held out (every class and range is represented), the rest for training.
fn holdout(rows: usize, k: usize) -> (Vec<usize>, Vec<usize>) {
    (0..rows).partition(|r| r % k != 0)
}

/// Contiguous parts of `rows` ordered by `key`: non-IID (each part a range of the key).
fn by_key(mut rows: Vec<usize>, parts: usize, key: impl Fn(usize) -> f64) -> Vec<Vec<usize>> {
    rows.sort_by(|a, b| key(*a).total_cmp(&key(*b)));
    let size = rows.len().div_ceil(parts);
    rows.chunks(size).map(<[usize]>::to_vec).collect()
}

/// iris's classes, and each row's class index.
fn iris_classes(iris: &Table) -> (Vec<String>, Vec<usize>) {
    let labels = vec!["setosa".to_owned(), "versicolor".to_owned(), "virginica".to_owned()];
    let classes = iris
        .rows()
        .map(|row| match &row[4] {
            app::table::Cell::Text(s) => labels.iter().position(|l| l == s).unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    (labels, classes)
}

fn round_robin(rows: &[usize], parts: usize) -> Vec<Vec<usize>> {
    (0..parts).map(|p| rows.iter().copied().skip(p).step_by(parts).collect()).collect()
}

#[test]
fn federated_iris_matches_central_logistic_regression_iid_and_by_label() {
    let iris = table("iris.csv");
    let features: Vec<String> = iris.columns[..4].iter().map(|c| c.name.clone()).collect();
    let (labels, classes) = iris_classes(&iris);
    let label_of = |r: usize| classes[r];
    let (train, test) = holdout(iris.len(), 3);
    let y_test: Vec<usize> = test.iter().map(|&r| label_of(r)).collect();
    let alpha = 1.0;
    // Central: the registry's logistic regression (linfa, L-BFGS) on all training rows.
    let pre = Preprocessor::fit(&iris, &train, &features).unwrap();
    let y_train: Vec<usize> = train.iter().map(|&r| label_of(r)).collect();
    let central = fit_logistic(pre.transform(&iris, &train).unwrap(), &y_train, 3, alpha, 200, None).unwrap();
    let central_acc = accuracy(&GlobalModel::Fitted(central.clone()), &pre.transform(&iris, &test).unwrap(), &y_test);

    let task = FlTask {
        features: iris.columns[..4].iter().map(|c| Feature { name: c.name.clone(), kind: c.kind, categories: vec![] }).collect(),
        target: "species".into(),
        labels: Some(labels.clone()),
        model: FlModel::Logistic { alpha, epochs: 1, learning_rate: 1.0, batch_size: 1024, mu: 0.0 },
        privacy: None,
    };
    for (name, parts) in [
        ("3 IID", round_robin(&train, 3)),
        ("5 IID", round_robin(&train, 5)),
        ("3 by label", by_key(train.clone(), 3, |r| label_of(r) as f64)),
        ("5 by label", by_key(train.clone(), 5, |r| label_of(r) as f64)),
    ] {
        let (fpre, model) = federate(&task, &iris, &parts, 100);
        let acc = accuracy(&model, &fpre.transform(&iris, &test).unwrap(), &y_test);
        eprintln!("iris logistic, {name}: federated accuracy {acc:.4}, central {central_acc:.4}");
        assert!(acc >= central_acc - 0.01, "{name}: federated {acc} vs central {central_acc}");
        // Its figures, aggregated from the participants' held-out rows, are the central ones.
        let (federated, central) = evaluate(&task, &iris, &fpre, &model, &test, parts.len());
        assert_eq!(federated, central, "{name}");
    }
}

#[test]
fn federated_diabetes_linear_regression_is_central_least_squares_iid_and_by_bmi() {
    let diabetes = table("diabetes.csv");
    let features: Vec<String> = diabetes.columns[..10].iter().map(|c| c.name.clone()).collect();
    let value = |r: usize, c: usize| diabetes.cell(r, c).as_f64().unwrap();
    let (train, test) = holdout(diabetes.len(), 4);
    let y_test: Vec<f64> = test.iter().map(|&r| value(r, 10)).collect();
    let pre = Preprocessor::fit(&diabetes, &train, &features).unwrap();
    let central = fit_linear(pre.transform(&diabetes, &train).unwrap(), train.iter().map(|&r| value(r, 10)).collect()).unwrap();
    let central_r2 = r2(&GlobalModel::Fitted(central.clone()), &pre.transform(&diabetes, &test).unwrap(), &y_test);

    let task = FlTask {
        features: diabetes.columns[..10].iter().map(|c| Feature { name: c.name.clone(), kind: c.kind, categories: vec![] }).collect(),
        target: "progression".into(),
        labels: None,
        model: FlModel::Linear,
        privacy: None,
    };
    let bmi = diabetes.column_index("bmi").unwrap();
    for (name, parts) in [
        ("3 IID", round_robin(&train, 3)),
        ("5 IID", round_robin(&train, 5)),
        ("3 by bmi", by_key(train.clone(), 3, |r| value(r, bmi))),
        ("5 by bmi", by_key(train.clone(), 5, |r| value(r, bmi))),
    ] {
        let (fpre, model) = federate(&task, &diabetes, &parts, 1);
        let fed_r2 = r2(&model, &fpre.transform(&diabetes, &test).unwrap(), &y_test);
        eprintln!("diabetes linear, {name}: federated R² {fed_r2:.6}, central {central_r2:.6}");
        assert!((fed_r2 - central_r2).abs() < 1e-4, "{name}: federated {fed_r2} vs central {central_r2}");
        let (Metrics::Regression(f), Metrics::Regression(c)) = evaluate(&task, &diabetes, &fpre, &model, &test, parts.len()) else {
            panic!("regression")
        };
        assert!((f.r2 - c.r2).abs() < 1e-5 && (f.rmse - c.rmse).abs() < 1e-3 && (f.mae - c.mae).abs() < 1e-3, "{name}: {f:?} vs {c:?}");
    }
}

#[test]
fn a_participant_file_that_does_not_fit_the_task_is_named() {
    let iris = table("iris.csv");
    let mut task = FlTask {
        features: vec![Feature { name: "petal_length_cm".into(), kind: app::table::ColumnKind::Numeric, categories: vec![] }],
        target: "species".into(),
        labels: Some(vec!["setosa".into(), "versicolor".into()]),
        model: FlModel::Logistic { alpha: 1.0, epochs: 1, learning_rate: 0.1, batch_size: 8, mu: 0.0 },
        privacy: None,
    };
    let err = task.local(&iris).err().unwrap().to_string();
    assert!(err.contains("“virginica”, which is not one of the federation's classes"), "{err}");
    task.features[0].name = "petal_area".into();
    assert_eq!(task.local(&iris).err().unwrap().to_string(), "the file has no column “petal_area”");
    task.features[0] = Feature { name: "species".into(), kind: app::table::ColumnKind::Numeric, categories: vec![] };
    assert_eq!(
        task.local(&iris).err().unwrap().to_string(),
        "column “species” reads as categorical but the federation declares it numeric"
    );
}

/// The small neural network (one hidden layer of 16 ReLU units) by FedAvg on iris, IID and split
/// by label, against the same network trained on all the training rows in one place for as
/// many passes from the same kind of start (plain SGD on the mean cross-entropy).
#[test]
fn federated_iris_network_is_close_to_central_training() {
    let iris = table("iris.csv");
    let (labels, classes) = iris_classes(&iris);
    let label_of = |r: usize| classes[r];
    let (train, test) = holdout(iris.len(), 3);
    let y_test: Vec<usize> = test.iter().map(|&r| label_of(r)).collect();
    let (epochs, rounds) = (5, 30);
    let task = FlTask {
        features: iris.columns[..4].iter().map(|c| Feature { name: c.name.clone(), kind: c.kind, categories: vec![] }).collect(),
        target: "species".into(),
        labels: Some(labels.clone()),
        model: FlModel::Mlp { hidden: vec![16], epochs, learning_rate: 0.1, batch_size: 16, mu: 0.0 },
        privacy: None,
    };
    // Central: every training row in one place, the same number of passes, no protocol.
    let central_task = FlTask {
        model: FlModel::Mlp { hidden: vec![16], epochs: epochs * rounds, learning_rate: 0.1, batch_size: 16, mu: 0.0 },
        ..task.clone()
    };
    let whole = sub(&iris, &train);
    let local = central_task.local(&whole).unwrap();
    let pre = central_task.preprocessor(&central_task.moments(&local).unwrap().0).unwrap();
    let start = central_task.global_model(pre.width(), &central_task.initial_params_from(pre.width(), 11).unwrap()).unwrap();
    let (params, _) = central_task.update(&local, &pre, Some(&start), 7).unwrap();
    let central = central_task.global_model(pre.width(), &params).unwrap();
    let central_acc = accuracy(&central, &pre.transform(&iris, &test).unwrap(), &y_test);
    for (name, parts) in [("3 IID", round_robin(&train, 3)), ("3 by label", by_key(train.clone(), 3, |r| label_of(r) as f64))] {
        let (pre, model) = federate(&task, &iris, &parts, rounds);
        let acc = accuracy(&model, &pre.transform(&iris, &test).unwrap(), &y_test);
        let (federated, _) = evaluate(&task, &iris, &pre, &model, &test, 3);
        println!(
            "iris network {name}: federated accuracy {acc:.4} (through the protocol {:.4}), central {central_acc:.4}",
            federated.score()
        );
        assert!(acc >= 0.9 && acc >= central_acc - 0.04, "{name}: {acc} vs central {central_acc}");
        assert!((federated.score() - acc).abs() < 1e-9);
    }
}

/// DP-FedAvg on iris, 30 participants of four training rows or so each (IID), every phase
/// through `plan` as the server and the participants run it (sums in the clear here; the
/// protocol's masking is checked elsewhere): accuracy on the held-out third at a target ε
/// over 20 rounds (q = 1, C = 1, central noise; σ from the accountant), beside the same
/// federation without privacy. Printed with `--nocapture`; the bar is loose.
#[test]
fn private_federated_iris_accuracy_against_epsilon() {
    use app::fl::plan::{self, Known, Outcome};
    use app::fl::privacy::{FlPrivacy, NoiseMode};
    use app::model::federation::Phase;
    let iris = table("iris.csv");
    let (labels, classes) = iris_classes(&iris);
    let (train, test) = holdout(iris.len(), 3);
    let parts = round_robin(&train, 30);
    let tables: Vec<Table> = parts.iter().map(|rows| sub(&iris, rows)).collect();
    let rounds = 20u32;
    let delta = 1e-5;
    let mut report = vec![];
    for target in [1.0, 2.0, 4.0, 8.0, f64::INFINITY] {
        let privacy = target.is_finite().then(|| FlPrivacy {
            clip_norm: 1.0,
            noise_multiplier: app::dp::accountant::noise_for(1.0, u64::from(rounds), delta, target).unwrap(),
            noise: NoiseMode::Central,
            sampling_rate: 1.0,
            epsilon: target,
            delta,
        });
        let task = FlTask {
            features: iris.columns[..4].iter().map(|c| Feature { name: c.name.clone(), kind: c.kind, categories: vec![] }).collect(),
            target: "species".into(),
            labels: Some(labels.clone()),
            model: FlModel::Logistic { alpha: 0.0, epochs: 1, learning_rate: 1.0, batch_size: 1024, mu: 0.0 },
            privacy: privacy.clone(),
        };
        let locals: Vec<_> = tables.iter().map(|t| task.local(t).unwrap()).collect();
        // The noise is drawn from the operating system: ten runs, their mean and range.
        let runs: Vec<f64> = (0..10)
            .map(|_| {
                let mut known = Known { threshold: 30, population: 30, ..Known::default() };
                let mut phase = Phase::Statistics;
                while phase != Phase::Evaluate {
                    let encoding = plan::encoding(&task, phase);
                    let inputs: Vec<Vec<u64>> = locals
                        .iter()
                        .enumerate()
                        .map(|(i, l)| {
                            let c = plan::contribution(&task, phase, &known, l, i as u64).unwrap();
                            encoding.encode(&c.values, c.rows).unwrap().values
                        })
                        .collect();
                    let (means, rows) = encoding.decode(&app::fl::masks::sum(&inputs)).unwrap();
                    match plan::outcome(&task, phase, &known, means, rows).unwrap() {
                        Outcome::Means { means, start } => (known.means, known.params) = (Some(means), start),
                        Outcome::Params { params, .. } => known.params = Some(params),
                        Outcome::Evaluated(_) => unreachable!(),
                    }
                    phase = phase.next(rounds).unwrap();
                }
                let pre = plan::preprocessor(&task, &known).unwrap();
                let model = plan::global_model(&task, &known, pre.width()).unwrap().unwrap();
                let y_test: Vec<usize> = test.iter().map(|&r| classes[r]).collect();
                accuracy(&model, &pre.transform(&iris, &test).unwrap(), &y_test)
            })
            .collect();
        let acc = runs.iter().sum::<f64>() / runs.len() as f64;
        let (lo, hi) = runs.iter().fold((1.0f64, 0.0f64), |(l, h), a| (l.min(*a), h.max(*a)));
        let sigma = privacy.as_ref().map_or(0.0, |p| p.noise_multiplier);
        eprintln!("private federated iris (30 participants, 20 rounds): ε = {target}, σ = {sigma:.3}, accuracy {acc:.3} (10 runs, {lo:.2} to {hi:.2})");
        report.push(acc);
    }
    assert!(report[3] >= 0.85, "ε = 8: {report:?}");
    assert!(report[4] >= 0.9, "without privacy: {report:?}");
}
