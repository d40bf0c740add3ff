//! LWE keys, encryption and the server's evaluation, with tfhe's `core_crypto` (pinned: it has
//! no stability promise). A ciphertext of message `m` under key `s ∈ {0,1}^n` is
//! `(a, b = ⟨a, s⟩ + m·Δ + e) mod 2^64`; `a` is uniform, `e` TUniform in `[−2^17, 2^17]`.

use tfhe::core_crypto::commons::generators::DeterministicSeeder;
use tfhe::core_crypto::commons::math::random::{DynamicDistribution, RandomGenerator, Seed};
use tfhe::core_crypto::prelude::*;

use super::quant::QuantModel;
use super::wire::{Answer, Form, Request, Row};
use super::{delta, HeError, HeOffer, LWE_DIMENSION, MESSAGE_BITS, NOISE_BOUND_LOG2};
use crate::crypto::dataset_id_bytes;
use crate::model::artifact::Prediction;

/// Words of one full ciphertext: the mask `a` (n words), then the body `b`.
pub const CIPHERTEXT_WORDS: usize = LWE_DIMENSION + 1;

/// A seed from the operating system (or the browser's crypto): the one fallible draw, from
/// which tfhe's generators are seeded.
fn os_seed() -> Result<Seed, HeError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| HeError::Random(e.to_string()))?;
    Ok(Seed(u128::from_le_bytes(bytes)))
}

fn noise() -> DynamicDistribution<u64> {
    DynamicDistribution::new_t_uniform(NOISE_BOUND_LOG2)
}

fn size() -> LweSize {
    LweDimension(LWE_DIMENSION).to_lwe_size()
}

/// A message in the top `MESSAGE_BITS` bits (two's complement wraps negatives).
fn encode(m: i64) -> u64 {
    (m as u64).wrapping_mul(delta())
}

/// The message nearest to a phase `b − ⟨a, s⟩`, as a signed `MESSAGE_BITS`-bit integer.
fn decode(phase: u64) -> i64 {
    let m = phase.wrapping_add(delta() / 2) >> (64 - MESSAGE_BITS);
    ((m << (64 - MESSAGE_BITS)) as i64) >> (64 - MESSAGE_BITS)
}

/// The client's secret: a uniformly random binary LWE key. It never leaves the client.
#[derive(Clone)]
pub struct ClientKey {
    key: LweSecretKeyOwned<u64>,
}

/// One row encrypted with a single seed: the masks are tfhe's generator's output from `seed`,
/// so only the bodies travel (docs/he.md, "Seeded rows").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeededRow {
    pub seed: u128,
    pub bodies: Vec<u64>,
}

impl ClientKey {
    pub fn generate() -> Result<ClientKey, HeError> {
        let mut generator = SecretRandomGenerator::<DefaultRandomGenerator>::new(os_seed()?);
        Ok(ClientKey { key: allocate_and_generate_new_binary_lwe_secret_key(LweDimension(LWE_DIMENSION), &mut generator) })
    }

    /// The key as 256 bytes, bit `i` of the key in byte `i / 8` at bit `i % 8` (docs/he.md).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![0u8; LWE_DIMENSION / 8];
        for (i, bit) in self.key.as_ref().iter().enumerate() {
            out[i / 8] |= ((*bit & 1) as u8) << (i % 8);
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<ClientKey, HeError> {
        if bytes.len() != LWE_DIMENSION / 8 {
            return Err(HeError::format("key", format!("a key is {} bytes, not {}", LWE_DIMENSION / 8, bytes.len())));
        }
        let bits: Vec<u64> = (0..LWE_DIMENSION).map(|i| u64::from((bytes[i / 8] >> (i % 8)) & 1)).collect();
        Ok(ClientKey { key: LweSecretKey::from_container(bits) })
    }

    /// Encrypts a quantised row as one seeded row: the masks are `masks(seed)`, so only the
    /// bodies travel. The body is computed here rather than by tfhe's
    /// `encrypt_seeded_lwe_ciphertext_list`, which draws the same masks one byte per call; the
    /// noise is tfhe's TUniform sampler's, from a generator seeded by the operating system.
    pub fn encrypt(&self, xq: &[i64]) -> Result<SeededRow, HeError> {
        let seed = os_seed()?.0;
        let mut noise_source = RandomGenerator::<DefaultRandomGenerator>::new(os_seed()?);
        let key = self.key.as_ref();
        let bodies = masks(seed, xq.len())
            .chunks_exact(LWE_DIMENSION)
            .zip(xq)
            .map(|(a, x)| {
                let e: u64 = noise_source.random_from_distribution(noise());
                dot(a, key).wrapping_add(encode(*x)).wrapping_add(e)
            })
            .collect();
        Ok(SeededRow { seed, bodies })
    }

    /// Encrypts a quantised row as full ciphertexts (`CIPHERTEXT_WORDS` words each): the form a
    /// client without tfhe's generator can make.
    pub fn encrypt_full(&self, xq: &[i64]) -> Result<Vec<u64>, HeError> {
        let mut seeder = DeterministicSeeder::<DefaultRandomGenerator>::new(os_seed()?);
        let mut generator = EncryptionRandomGenerator::<DefaultRandomGenerator>::new(os_seed()?, &mut seeder);
        let mut list = LweCiphertextList::new(0u64, size(), LweCiphertextCount(xq.len()), CiphertextModulus::new_native());
        let plain = PlaintextList::from_container(xq.iter().map(|x| encode(*x)).collect::<Vec<_>>());
        encrypt_lwe_ciphertext_list(&self.key, &mut list, &plain, noise(), &mut generator);
        Ok(list.into_container())
    }

    /// A request body for `offer`'s model (docs/he.md): each quantised row encrypted as one
    /// seeded row. The client side of the wire, shared by the CLI and the browser's worker.
    pub fn request(&self, offer: &HeOffer, quantised: &[Vec<i64>]) -> Result<Vec<u8>, HeError> {
        let model_id = dataset_id_bytes(&offer.model_id).map_err(|e| HeError::format("model_id", e.to_string()))?;
        let rows = quantised
            .iter()
            .map(|q| self.encrypt(q).map(|r| Row::Seeded { seed: r.seed, bodies: r.bodies }))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Request { form: Form::Seeded, model_id, spec: offer.spec, features: offer.features, rows }.encode())
    }

    /// The predictions of an answer body, each row's scores decrypted.
    pub fn predictions(&self, offer: &HeOffer, answer: &[u8]) -> Result<Vec<Prediction>, HeError> {
        let answer = Answer::decode(answer)?;
        answer
            .ciphertexts
            .chunks(answer.outputs.max(1))
            .map(|row| Ok(offer.prediction(&row.iter().map(|ct| self.decrypt(ct)).collect::<Result<Vec<_>, _>>()?)))
            .collect()
    }

    /// The message of one full ciphertext.
    pub fn decrypt(&self, ciphertext: &[u64]) -> Result<i64, HeError> {
        if ciphertext.len() != CIPHERTEXT_WORDS {
            return Err(HeError::format("ciphertext", format!("{} words, not {CIPHERTEXT_WORDS}", ciphertext.len())));
        }
        let ct = LweCiphertext::from_container(ciphertext, CiphertextModulus::new_native());
        Ok(decode(decrypt_lwe_ciphertext(&self.key, &ct).0))
    }
}

impl SeededRow {
    /// The full ciphertexts, `CIPHERTEXT_WORDS` words each.
    pub fn expand(&self) -> Vec<u64> {
        expand(self.seed, &self.bodies)
    }
}

/// The full ciphertexts of a seeded row: each body after its mask from `masks(seed)`.
pub fn expand(seed: u128, bodies: &[u64]) -> Vec<u64> {
    let masks = masks(seed, bodies.len());
    let mut out = Vec::with_capacity(bodies.len() * CIPHERTEXT_WORDS);
    for (a, b) in masks.chunks_exact(LWE_DIMENSION).zip(bodies) {
        out.extend_from_slice(a);
        out.push(*b);
    }
    out
}

/// The masks of `count` seeded ciphertexts, `LWE_DIMENSION` words each, one after the other:
/// the AES-128 counter-mode keystream under the key `seed` (its 16 little-endian bytes), the
/// counter a little-endian 128-bit integer from 0, read as little-endian 64-bit words
/// (docs/he.md, "Seeded rows"). It is tfhe 1.8.2's `DefaultRandomGenerator` stream, which its
/// seeded lists use (a test checks both ways), made here in bulk: tfhe hands it out a byte
/// per call, which was most of a prediction's time on both sides.
pub fn masks(seed: u128, count: usize) -> Vec<u64> {
    use aes::cipher::{KeyIvInit, StreamCipher};
    let mut bytes = vec![0u8; count * LWE_DIMENSION * 8];
    ctr::Ctr128LE::<aes::Aes128>::new(&seed.to_le_bytes().into(), &[0u8; 16].into()).apply_keystream(&mut bytes);
    bytes.chunks_exact(8).map(|w| u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]])).collect()
}

/// `Σ a_i · s_i mod 2^64`.
fn dot(a: &[u64], s: &[u64]) -> u64 {
    a.iter().zip(s).fold(0u64, |acc, (a, s)| acc.wrapping_add(a.wrapping_mul(*s)))
}

/// The server's side: each output's score as a full ciphertext, `b_k·Δ + Σ_j w_jk · ct_j`,
/// from a row's full ciphertexts (`features · CIPHERTEXT_WORDS` words). Only linear operations
/// on ciphertexts with plaintext integers: no key is involved.
pub fn evaluate(model: &QuantModel, row: &[u64]) -> Result<Vec<Vec<u64>>, HeError> {
    if row.len() != model.features * CIPHERTEXT_WORDS {
        return Err(HeError::Data(format!("{} words for {} features of {CIPHERTEXT_WORDS} words", row.len(), model.features)));
    }
    let modulus = CiphertextModulus::new_native();
    let inputs: Vec<LweCiphertext<&[u64]>> =
        row.chunks_exact(CIPHERTEXT_WORDS).map(|c| LweCiphertext::from_container(c, modulus)).collect();
    let mut term = LweCiphertext::new(0u64, size(), modulus);
    Ok((0..model.outputs)
        .map(|k| {
            let mut score = LweCiphertext::new(0u64, size(), modulus);
            for (j, ct) in inputs.iter().enumerate() {
                lwe_ciphertext_cleartext_mul(&mut term, ct, Cleartext(model.coef[j * model.outputs + k] as u64));
                lwe_ciphertext_add_assign(&mut score, &term);
            }
            lwe_ciphertext_plaintext_add_assign(&mut score, Plaintext(encode(model.intercept[k])));
            score.into_container()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::he::quant::QuantSpec;
    use crate::ml::linear::Fitted;

    #[test]
    fn messages_round_trip_at_the_edges_of_the_space() {
        let key = ClientKey::generate().unwrap();
        let edge = (1i64 << 31) - 1;
        let xs = [0, 1, -1, 127, -127, edge, -edge, -(1i64 << 31)];
        let full = key.encrypt_full(&xs).unwrap();
        for (x, ct) in xs.iter().zip(full.chunks_exact(CIPHERTEXT_WORDS)) {
            assert_eq!(key.decrypt(ct).unwrap(), *x);
        }
        let seeded = key.encrypt(&xs).unwrap();
        assert_eq!(seeded.bodies.len(), xs.len());
        for (x, ct) in xs.iter().zip(seeded.expand().chunks_exact(CIPHERTEXT_WORDS)) {
            assert_eq!(key.decrypt(ct).unwrap(), *x);
        }
        assert_eq!(ClientKey::from_bytes(&key.to_bytes()).unwrap().to_bytes(), key.to_bytes());
    }

    /// The property docs/he.md promises: for any model within the budget and any quantised
    /// input, the decrypted scores are exactly the plaintext evaluation. Random models (weights
    /// at the budget's edge among them) and inputs at the ends of their range, 300 cases.
    #[test]
    fn decryption_equals_the_plaintext_evaluation_for_any_model_within_the_budget() {
        use crate::he::quant::MAX_WEIGHT_SUM;
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let key = ClientKey::generate().unwrap();
        for case in 0..300 {
            let features = rng.random_range(1..=40usize);
            let outputs = rng.random_range(1..=4usize);
            let spec = QuantSpec { input_bits: rng.random_range(2..=12), weight_bits: rng.random_range(2..=12), input_range: 4.0 };
            // Weights whose magnitudes add up to at most the budget for each output; every
            // tenth case sits exactly one under it.
            let per = ((MAX_WEIGHT_SUM - 1) / features as i64).min((1 << (spec.weight_bits - 1)) - 1);
            let coef: Vec<i64> = (0..features * outputs)
                .map(|_| {
                    if case % 10 == 0 {
                        if rng.random::<bool>() {
                            per
                        } else {
                            -per
                        }
                    } else {
                        rng.random_range(-per..=per)
                    }
                })
                .collect();
            let reach =
                (0..outputs).map(|k| (0..features).map(|j| coef[j * outputs + k].abs()).sum::<i64>() * spec.input_max()).max().unwrap_or(0);
            let room = (1i64 << 31) - 1 - reach;
            if room < 0 {
                continue;
            }
            let intercept: Vec<i64> = (0..outputs).map(|_| rng.random_range(-room..=room)).collect();
            let model = QuantModel { spec, weight_scale: 1.0, features, outputs, intercept, coef };
            model.check_budget().unwrap();
            let max = spec.input_max();
            let x: Vec<i64> = (0..features)
                .map(|j| match (case + j) % 4 {
                    0 => max,
                    1 => -max,
                    _ => rng.random_range(-max..=max),
                })
                .collect();
            let row = if case % 2 == 0 { key.encrypt(&x).unwrap().expand() } else { key.encrypt_full(&x).unwrap() };
            let got: Vec<i64> = evaluate(&model, &row).unwrap().iter().map(|ct| key.decrypt(ct).unwrap()).collect();
            assert_eq!(got, model.scores(&x), "case {case}: {features} features, {outputs} outputs, {spec:?}");
        }
    }

    /// The seeded form is tfhe's: a row tfhe encrypts as a seeded list expands here to what
    /// tfhe's own decompression gives, and a row encrypted here decompresses in tfhe to the
    /// ciphertexts `expand` gives (so docs/he.md's AES-CTR description is tfhe's stream).
    #[test]
    fn seeded_rows_are_tfhes_seeded_lists_both_ways() {
        use tfhe::core_crypto::commons::math::random::CompressionSeed;
        let key = ClientKey::generate().unwrap();
        for (features, seed) in [(1usize, 0u128), (3, 1), (10, u128::MAX - 5), (33, 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210)] {
            let xq: Vec<i64> = (0..features as i64).map(|j| j * 37 - 100).collect();
            let mut seeder = DeterministicSeeder::<DefaultRandomGenerator>::new(Seed(seed ^ 7));
            let mut list = SeededLweCiphertextList::new(
                0u64,
                size(),
                LweCiphertextCount(features),
                CompressionSeed::from(Seed(seed)),
                CiphertextModulus::new_native(),
            );
            let plain = PlaintextList::from_container(xq.iter().map(|x| encode(*x)).collect::<Vec<_>>());
            encrypt_seeded_lwe_ciphertext_list(&key.key, &mut list, &plain, noise(), &mut seeder);
            let by_tfhe = list.clone().decompress_into_lwe_ciphertext_list().into_container();
            assert_eq!(expand(seed, list.as_ref()), by_tfhe, "{features} features, seed {seed}");

            let ours = key.encrypt(&xq).unwrap();
            let theirs = SeededLweCiphertextList::from_container(
                ours.bodies.clone(),
                size(),
                CompressionSeed::from(Seed(ours.seed)),
                CiphertextModulus::new_native(),
            );
            let full = theirs.decompress_into_lwe_ciphertext_list().into_container();
            assert_eq!(full, ours.expand());
            let got: Vec<i64> = full.chunks_exact(CIPHERTEXT_WORDS).map(|ct| key.decrypt(ct).unwrap()).collect();
            assert_eq!(got, xq);
        }
    }

    #[test]
    fn the_server_computes_the_scores_the_plain_model_gives() {
        let key = ClientKey::generate().unwrap();
        let fitted = Fitted::Logistic { classes: 2, intercept: vec![0.5, -0.25], coef: vec![1.0, -2.0, 0.75, 0.1, -3.0, 2.5] };
        let model = QuantModel::new(&fitted, 3, QuantSpec::DEFAULT).unwrap();
        let (xq, _) = model.quantise_row(&[1.5, -0.3, 9.0]).unwrap();
        let row = key.encrypt(&xq).unwrap().expand();
        let out = evaluate(&model, &row).unwrap();
        let got: Vec<i64> = out.iter().map(|ct| key.decrypt(ct).unwrap()).collect();
        assert_eq!(got, model.scores(&xq));
    }
}
