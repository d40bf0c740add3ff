//! Accuracy against privacy: DP-SGD logistic regression and the DQN network on iris and on
//! diabetes made binary (progression above its median), 5-fold stratified cross-validation,
//! at ε ∈ {0.5, 1, 2, 4, 8} and without privacy (ε = ∞: the same model fitted without DP,
//! L-BFGS for logistic regression). δ is the default, min(10⁻⁵, 1/(10·rows)). The table is
//! printed (`cargo test -p app --test privacy_quality -- --nocapture`) and the bars below
//! are loose: DP-SGD on 150 rows at ε = 0.5 is expected to lose accuracy.

use app::ml::metrics::Metrics;
use app::ml::train::{train, TrainSpec, Trained};
use app::table::{Cell, Column, ColumnKind, Format, ParseOptions, Table};

fn table(name: &str) -> Table {
    let bytes = std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    Table::parse(&bytes, Format::Csv, &ParseOptions::default()).unwrap()
}

/// Diabetes with `progression` replaced by whether it is above the median.
fn diabetes_binary() -> Table {
    let t = table("diabetes.csv");
    let p = t.column_index("progression").unwrap();
    let mut values: Vec<f64> = t.rows().map(|r| r[p].as_f64().unwrap()).collect();
    values.sort_by(f64::total_cmp);
    let median = values[values.len() / 2];
    let mut columns = t.columns.clone();
    columns[p] = Column { name: "high".into(), kind: ColumnKind::Categorical };
    let rows = t.rows().map(|mut r| {
        let high = r[p].as_f64().unwrap() > median;
        r[p] = Cell::Text(if high { "yes" } else { "no" }.into());
        r
    });
    Table::from_rows(columns, rows.collect())
}

fn run(t: &Table, target: &str, model: serde_json::Value, privacy: Option<serde_json::Value>) -> Trained {
    let mut spec = serde_json::json!({"target": target, "model": model, "cv_folds": 5, "seed": 0});
    if let Some(p) = privacy {
        spec["privacy"] = p;
    }
    let spec: TrainSpec = serde_json::from_value(spec).unwrap();
    train(&[t], &spec, &mut app::ml::model::Quiet).unwrap()
}

fn accuracy(t: &Trained) -> f64 {
    match &t.metrics {
        Metrics::Classification(c) => c.accuracy,
        other => panic!("{other:?}"),
    }
}

#[test]
fn accuracy_against_epsilon_on_iris_and_binary_diabetes() {
    let iris = table("iris.csv");
    let diabetes = diabetes_binary();
    let sets = [("iris", &iris, "species"), ("diabetes (binary)", &diabetes, "high")];
    let models = [
        ("logistic", serde_json::json!({"kind": "logistic"})),
        ("network", serde_json::json!({"kind": "dqn", "params": {"hidden": [16]}})),
    ];
    println!("| data | model | ε=0.5 | ε=1 | ε=2 | ε=4 | ε=8 | ε=∞ |");
    println!("|---|---|---|---|---|---|---|---|");
    for (name, t, target) in sets {
        for (label, model) in &models {
            let mut row = Vec::new();
            for eps in [0.5, 1.0, 2.0, 4.0, 8.0] {
                let out = run(t, target, model.clone(), Some(serde_json::json!({"epsilon": eps})));
                let spent = out.privacy.clone().expect("a DP fit reports what it spent");
                // The σ found meets the target, and not by a wide margin.
                assert!(spent.epsilon <= eps && spent.epsilon > 0.99 * eps, "{name} {label}: target {eps}, spent {}", spent.epsilon);
                assert!(spent.searched);
                row.push(accuracy(&out));
            }
            let plain = run(t, target, model.clone(), None);
            assert!(plain.privacy.is_none());
            row.push(accuracy(&plain));
            let cells: Vec<String> = row.iter().map(|a| format!("{a:.3}")).collect();
            println!("| {name} | {label} | {} |", cells.join(" | "));
            // Loose bars: at ε = 8, DP-SGD is close to the model without privacy.
            let (at8, free) = (row[4], row[5]);
            assert!(at8 >= free - 0.15, "{name} {label}: ε = 8 gives {at8:.3}, without privacy {free:.3}");
        }
    }
}

#[test]
fn a_given_noise_multiplier_is_used_as_is_and_bad_settings_name_their_field() {
    let iris = table("iris.csv");
    let out = run(
        &iris,
        "species",
        serde_json::json!({"kind": "logistic"}),
        Some(serde_json::json!({"noise_multiplier": 1.1, "batch_size": 30, "epochs": 10})),
    );
    let spent = out.privacy.unwrap();
    assert_eq!(spent.noise_multiplier, 1.1);
    assert!(!spent.searched);
    assert_eq!((spent.sampling_rate, spent.steps), (0.2, 50));
    let expected = app::dp::accountant::epsilon(0.2, 1.1, 50, spent.delta).unwrap();
    assert_eq!(spent.epsilon, expected);
    assert_eq!(spent.delta, 1e-5, "δ defaults to 10⁻⁵ below 10⁴ rows");

    let field = |privacy: serde_json::Value, model: serde_json::Value| {
        let spec: TrainSpec = serde_json::from_value(serde_json::json!({"target": "species", "model": model, "privacy": privacy})).unwrap();
        spec.check(&iris.columns, 1).and_then(|_| spec.check_rows(iris.len())).unwrap_err().field
    };
    let logistic = serde_json::json!({"kind": "logistic"});
    assert_eq!(field(serde_json::json!({"epsilon": 0}), logistic.clone()), "privacy.epsilon");
    assert_eq!(field(serde_json::json!({"epsilon": -1}), logistic.clone()), "privacy.epsilon");
    assert_eq!(field(serde_json::json!({"noise_multiplier": 0}), logistic.clone()), "privacy.noise_multiplier");
    assert_eq!(field(serde_json::json!({"epsilon": 1, "clip_norm": 0}), logistic.clone()), "privacy.clip_norm");
    assert_eq!(field(serde_json::json!({"epsilon": 1, "clip_norm": -2}), logistic.clone()), "privacy.clip_norm");
    assert_eq!(field(serde_json::json!({"epsilon": 1, "delta": 0.01}), logistic.clone()), "privacy.delta", "δ ≥ 1/150");
    assert_eq!(field(serde_json::json!({"epsilon": 1, "delta": 1.5}), logistic.clone()), "privacy.delta");
    assert_eq!(field(serde_json::json!({"epsilon": 1, "batch_size": 500}), logistic.clone()), "privacy.batch_size");
    assert_eq!(field(serde_json::json!({}), logistic.clone()), "privacy.epsilon");
    assert_eq!(field(serde_json::json!({"epsilon": 1}), serde_json::json!({"kind": "forest"})), "model.kind");
    assert_eq!(
        field(serde_json::json!({"epsilon": 1}), serde_json::json!({"kind": "logistic", "search": {"grid": {"alpha": [0.1, 1]}}})),
        "model.search"
    );
}
