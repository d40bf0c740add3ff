//! Encrypted prediction's cost per row beside plaintext prediction of the same quantised
//! model, measured in the same run (docs/he.md): a 10-feature linear model (diabetes's width)
//! and iris's logistic model (4 features, 3 classes). For each: client encryption (seeded),
//! the bytes uploaded, the server's evaluation (mask expansion included), decryption, their
//! sum, and the plaintext evaluation as the baseline; p50 and p95 over 1,000 rows; then a
//! batch of 10,000 rows. Native; `scripts/bench-he.sh` adds the server over loopback and the
//! browser.
//!
//! `cargo bench -p app --features he --bench he`. For reference (the measurements on
//! a 2-core machine like ours): Concrete ML 1.9 took 6.9–7.6 ms per encrypted linear
//! prediction on diabetes and 4.9 ms for iris's logistic regression.

use std::time::Instant;

use app::he::lwe::{evaluate, ClientKey};
use app::he::quant::{QuantModel, QuantSpec};
use app::he::wire::{row_bytes, Form};
use app::ml::linear::Fitted;
use rand::{Rng, SeedableRng};
use tfhe::core_crypto::commons::generators::DeterministicSeeder;
use tfhe::core_crypto::commons::math::random::{CompressionSeed, DefaultRandomGenerator, DynamicDistribution, Seed};
use tfhe::core_crypto::prelude::*;

/// The same seeded row made and expanded by tfhe's own functions (its generator hands out the
/// masks a byte per call): the second baseline, for the bulk AES-CTR stream app::he uses.
fn tfhe_seeded(key: &LweSecretKeyOwned<u64>, xq: &[i64], seed: u128) -> (std::time::Duration, std::time::Duration) {
    let t = Instant::now();
    let mut seeder = DeterministicSeeder::<DefaultRandomGenerator>::new(Seed(seed ^ 1));
    let size = LweDimension(app::he::LWE_DIMENSION).to_lwe_size();
    let mut list = SeededLweCiphertextList::new(
        0u64,
        size,
        LweCiphertextCount(xq.len()),
        CompressionSeed::from(Seed(seed)),
        CiphertextModulus::new_native(),
    );
    let plain = PlaintextList::from_container(xq.iter().map(|x| (*x as u64).wrapping_mul(app::he::delta())).collect::<Vec<_>>());
    let noise = DynamicDistribution::new_t_uniform(app::he::NOISE_BOUND_LOG2);
    encrypt_seeded_lwe_ciphertext_list(key, &mut list, &plain, noise, &mut seeder);
    let encrypted = t.elapsed();
    let t = Instant::now();
    std::hint::black_box(list.decompress_into_lwe_ciphertext_list());
    (encrypted, t.elapsed())
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn bench(name: &str, fitted: &Fitted, features: usize) {
    let model = QuantModel::new(fitted, features, QuantSpec::DEFAULT).expect("within the budget");
    let key = ClientKey::generate().expect("a key");
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let rows: Vec<Vec<f64>> = (0..1000).map(|_| (0..features).map(|_| rng.random_range(-2.0..2.0)).collect()).collect();
    let (mut enc, mut eval, mut dec, mut total, mut plain) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut tfhe_enc, mut tfhe_expand) = (vec![], vec![]);
    let bits = key.to_bytes();
    let tfhe_key =
        LweSecretKey::from_container((0..app::he::LWE_DIMENSION).map(|i| u64::from((bits[i / 8] >> (i % 8)) & 1)).collect::<Vec<_>>());
    for row in &rows {
        let t = Instant::now();
        let (q, _) = model.quantise_row(row).expect("a row");
        let seeded = key.encrypt(&q).expect("encryption");
        let e = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let out = evaluate(&model, &seeded.expand()).expect("evaluation");
        let v = t.elapsed().as_secs_f64() * 1e3;
        let (te, tx) = tfhe_seeded(&tfhe_key, &q, seeded.seed);
        tfhe_enc.push(te.as_secs_f64() * 1e3);
        tfhe_expand.push(tx.as_secs_f64() * 1e3);
        let t = Instant::now();
        let scores: Vec<i64> = out.iter().map(|ct| key.decrypt(ct).expect("decryption")).collect();
        let d = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let expected = model.scores(&q);
        plain.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(scores, expected, "decryption must equal the plaintext evaluation");
        enc.push(e);
        eval.push(v);
        dec.push(d);
        total.push(e + v + d);
    }
    let p50 = |v: &mut Vec<f64>| percentile(v, 0.5);
    let p95 = |v: &mut Vec<f64>| percentile(v, 0.95);
    let base = p50(&mut plain).max(1e-6);
    println!(
        "{name}: {features} features, {} outputs; upload {} bytes/row (seeded), answer {} bytes/row",
        model.outputs,
        row_bytes(Form::Seeded, features),
        model.outputs * 2049 * 8
    );
    for (what, v) in [("encrypt", &mut enc), ("evaluate (server)", &mut eval), ("decrypt", &mut dec), ("total compute", &mut total)] {
        let (a, b) = (p50(v), p95(v));
        println!("  {what:<18} p50 {a:>8.4} ms   p95 {b:>8.4} ms   {:>9.0}× plaintext", a / base);
    }
    println!("  plaintext baseline p50 {base:>8.5} ms");
    let (te, tx) = (p50(&mut tfhe_enc), p50(&mut tfhe_expand));
    let (oe, ox) = (p50(&mut enc), p50(&mut eval));
    println!(
        "  tfhe's own seeded encryption p50 {te:.4} ms ({:.1}× ours), its expansion alone p50 {tx:.4} ms ({:.1}× our expansion and evaluation)",
        te / oe,
        tx / ox
    );
    let t = Instant::now();
    let batch: Vec<Vec<f64>> = (0..10_000).map(|i| rows[i % rows.len()].clone()).collect();
    let mut checksum = 0i64;
    for row in &batch {
        let (q, _) = model.quantise_row(row).expect("a row");
        let out = evaluate(&model, &key.encrypt(&q).expect("encryption").expand()).expect("evaluation");
        checksum = out.iter().fold(checksum, |c, ct| c.wrapping_add(key.decrypt(ct).expect("decryption")));
    }
    println!("  10,000 rows (encrypt, evaluate, decrypt, one core): {:.2} s (checksum {checksum})", t.elapsed().as_secs_f64());
}

fn main() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let linear = Fitted::Linear { intercept: 152.0, coef: (0..10).map(|_| rng.random_range(-40.0..40.0)).collect() };
    bench("linear (diabetes's width)", &linear, 10);
    let logistic =
        Fitted::Logistic { classes: 3, intercept: vec![-0.2, 1.9, -1.7], coef: (0..12).map(|_| rng.random_range(-3.0..3.0)).collect() };
    bench("logistic (iris's shape)", &logistic, 4);
}
