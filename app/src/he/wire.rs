//! The bodies of `POST /api/models/{id}/predict-encrypted` (docs/he.md, "Wire format"). All
//! integers little-endian. Parsing checks every length before it reads, so a truncated or
//! oversized body is refused with what is wrong, never read past its end.

use super::quant::QuantSpec;
use super::{HeError, LWE_DIMENSION, PARAMETER_SET};

pub const REQUEST_MAGIC: &[u8; 4] = b"CFHE";
pub const ANSWER_MAGIC: &[u8; 4] = b"CFHR";
pub const VERSION: u8 = 1;
/// Bytes before the rows of a request.
pub const REQUEST_HEADER: usize = 48;
/// Bytes before the ciphertexts of an answer.
pub const ANSWER_HEADER: usize = 16;
/// Rows one request may carry.
pub const MAX_ROWS: usize = 10_000;
/// Features one request may carry.
pub const MAX_FEATURES: usize = 4_096;
const CIPHERTEXT_WORDS: usize = LWE_DIMENSION + 1;

/// How the rows' ciphertexts travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// Per row a 16-byte seed and one 8-byte body per feature; the masks are tfhe's generator's.
    Seeded = 1,
    /// Per row, per feature, a whole ciphertext: `n` mask words then the body.
    Full = 2,
}

/// A parsed request: its header, and the rows still as bytes (each row's slice).
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub form: Form,
    pub model_id: [u8; 16],
    pub spec: QuantSpec,
    pub features: usize,
    pub rows: Vec<Row>,
}

/// One row as it arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Row {
    Seeded { seed: u128, bodies: Vec<u64> },
    Full(Vec<u64>),
}

fn words(bytes: &[u8]) -> Vec<u64> {
    bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())).collect()
}

fn put_words(out: &mut Vec<u8>, words: &[u64]) {
    out.reserve(words.len() * 8);
    for w in words {
        out.extend_from_slice(&w.to_le_bytes());
    }
}

/// Bytes per row of a form with `features` features.
pub fn row_bytes(form: Form, features: usize) -> usize {
    match form {
        Form::Seeded => 16 + features * 8,
        Form::Full => features * CIPHERTEXT_WORDS * 8,
    }
}

impl Request {
    /// The header for `rows` rows, then the rows.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(REQUEST_HEADER + self.rows.len() * row_bytes(self.form, self.features));
        out.extend_from_slice(REQUEST_MAGIC);
        out.extend_from_slice(&[VERSION, PARAMETER_SET, self.form as u8, self.spec.input_bits, self.spec.weight_bits]);
        out.extend_from_slice(&[0u8; 7]);
        out.extend_from_slice(&self.model_id);
        out.extend_from_slice(&self.spec.input_range.to_le_bytes());
        out.extend_from_slice(&(self.rows.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.features as u32).to_le_bytes());
        for row in &self.rows {
            match row {
                Row::Seeded { seed, bodies } => {
                    out.extend_from_slice(&seed.to_le_bytes());
                    put_words(&mut out, bodies);
                }
                Row::Full(words) => put_words(&mut out, words),
            }
        }
        out
    }

    /// Reads a request body, refusing anything that is not exactly one.
    pub fn decode(body: &[u8]) -> Result<Request, HeError> {
        if body.len() < REQUEST_HEADER {
            return Err(HeError::format("header", format!("the body has {} bytes; the header alone is {REQUEST_HEADER}", body.len())));
        }
        if &body[..4] != REQUEST_MAGIC {
            return Err(HeError::format("magic", "the body does not start with CFHE"));
        }
        if body[4] != VERSION {
            return Err(HeError::format("version", format!("version {} is not supported (this server reads {VERSION})", body[4])));
        }
        if body[5] != PARAMETER_SET {
            return Err(HeError::format("parameter_set", format!("parameter set {} is not this server's ({PARAMETER_SET})", body[5])));
        }
        let form = match body[6] {
            1 => Form::Seeded,
            2 => Form::Full,
            other => return Err(HeError::format("form", format!("form {other} is neither 1 (seeded) nor 2 (full)"))),
        };
        if body[9..16].iter().any(|b| *b != 0) {
            return Err(HeError::format("reserved", "bytes 9 to 15 must be zero"));
        }
        let mut model_id = [0u8; 16];
        model_id.copy_from_slice(&body[16..32]);
        let input_range = f64::from_le_bytes(body[32..40].try_into().unwrap_or_default());
        let rows = u32::from_le_bytes(body[40..44].try_into().unwrap_or_default()) as usize;
        let features = u32::from_le_bytes(body[44..48].try_into().unwrap_or_default()) as usize;
        if rows == 0 || rows > MAX_ROWS {
            return Err(HeError::format("rows", format!("send 1 to {MAX_ROWS} rows per request, not {rows}")));
        }
        if features == 0 || features > MAX_FEATURES {
            return Err(HeError::format("features", format!("1 to {MAX_FEATURES} features, not {features}")));
        }
        let per_row = row_bytes(form, features);
        let expected = REQUEST_HEADER + rows * per_row;
        if body.len() != expected {
            let what = if body.len() < expected { "truncated" } else { "too long" };
            return Err(HeError::format(
                "body",
                format!("{what}: {rows} rows of {features} features make {expected} bytes, not {}", body.len()),
            ));
        }
        let rows = body[REQUEST_HEADER..]
            .chunks_exact(per_row)
            .map(|r| match form {
                Form::Seeded => Row::Seeded { seed: u128::from_le_bytes(r[..16].try_into().unwrap_or_default()), bodies: words(&r[16..]) },
                Form::Full => Row::Full(words(r)),
            })
            .collect();
        Ok(Request { form, model_id, spec: QuantSpec { input_bits: body[7], weight_bits: body[8], input_range }, features, rows })
    }
}

/// The answer: per row, per output, one full ciphertext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub outputs: usize,
    /// `rows · outputs` ciphertexts, row-major.
    pub ciphertexts: Vec<Vec<u64>>,
}

impl Answer {
    pub fn encode(&self) -> Vec<u8> {
        let rows = self.ciphertexts.len() / self.outputs.max(1);
        let mut out = Vec::with_capacity(ANSWER_HEADER + self.ciphertexts.len() * CIPHERTEXT_WORDS * 8);
        out.extend_from_slice(ANSWER_MAGIC);
        out.extend_from_slice(&[VERSION, PARAMETER_SET, 0, 0]);
        out.extend_from_slice(&(rows as u32).to_le_bytes());
        out.extend_from_slice(&(self.outputs as u32).to_le_bytes());
        for ct in &self.ciphertexts {
            put_words(&mut out, ct);
        }
        out
    }

    pub fn decode(body: &[u8]) -> Result<Answer, HeError> {
        if body.len() < ANSWER_HEADER || &body[..4] != ANSWER_MAGIC {
            return Err(HeError::format("answer", "not an answer (CFHR)"));
        }
        if body[4] != VERSION || body[5] != PARAMETER_SET {
            return Err(HeError::format("answer", format!("version {} and parameter set {} are not this client's", body[4], body[5])));
        }
        let rows = u32::from_le_bytes(body[8..12].try_into().unwrap_or_default()) as usize;
        let outputs = u32::from_le_bytes(body[12..16].try_into().unwrap_or_default()) as usize;
        let expected = rows.checked_mul(outputs).and_then(|n| n.checked_mul(CIPHERTEXT_WORDS * 8)).map(|n| n + ANSWER_HEADER);
        if expected != Some(body.len()) {
            return Err(HeError::format("answer", format!("{rows} rows of {outputs} outputs do not make {} bytes", body.len())));
        }
        Ok(Answer { outputs, ciphertexts: body[ANSWER_HEADER..].chunks_exact(CIPHERTEXT_WORDS * 8).map(words).collect() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(form: Form) -> Request {
        let rows = match form {
            Form::Seeded => vec![Row::Seeded { seed: 7, bodies: vec![1, 2, 3] }, Row::Seeded { seed: u128::MAX, bodies: vec![4, 5, 6] }],
            Form::Full => vec![Row::Full((0..3 * CIPHERTEXT_WORDS as u64).collect())],
        };
        Request { form, model_id: [9; 16], spec: QuantSpec::DEFAULT, features: 3, rows }
    }

    #[test]
    fn requests_round_trip_and_every_bad_part_is_named() {
        for form in [Form::Seeded, Form::Full] {
            let r = request(form);
            assert_eq!(Request::decode(&r.encode()).unwrap(), r);
        }
        let good = request(Form::Seeded).encode();
        assert_eq!(good.len(), REQUEST_HEADER + 2 * (16 + 3 * 8));
        let field = |b: &[u8]| match Request::decode(b).unwrap_err() {
            HeError::Format { field, .. } => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(&good[..20]), "header");
        assert_eq!(field(&good[..good.len() - 1]), "body");
        assert_eq!(field(&[good.clone(), vec![0]].concat()), "body");
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(field(&bad), "magic");
        let mut bad = good.clone();
        bad[5] = 9;
        assert_eq!(field(&bad), "parameter_set");
        let mut bad = good.clone();
        bad[6] = 3;
        assert_eq!(field(&bad), "form");
        let mut bad = good.clone();
        bad[40..44].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(field(&bad), "rows");
        let mut bad = good;
        bad[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(field(&bad), "rows");
    }

    #[test]
    fn answers_round_trip() {
        let a = Answer { outputs: 2, ciphertexts: vec![vec![1; CIPHERTEXT_WORDS], vec![2; CIPHERTEXT_WORDS]] };
        assert_eq!(Answer::decode(&a.encode()).unwrap(), a);
        assert!(Answer::decode(&a.encode()[..100]).is_err());
    }
}
