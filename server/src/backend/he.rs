//! Encrypted prediction on the server (docs/he.md): the offer a client encrypts for, and the
//! evaluation of a request's ciphertexts. The arithmetic is `app::he`'s; this is the checking
//! around it, in the order the refusals are documented. Nothing here logs a body.

use app::he::lwe::{evaluate, expand};
use app::he::quant::{fitted, QuantModel, QuantSpec, MAX_WEIGHT_SUM};
use app::he::wire::{row_bytes, Answer, Form, Request, Row, ANSWER_HEADER};
use app::he::{HeError, HeOffer, LWE_DIMENSION, MESSAGE_BITS, NOISE_BOUND_LOG2, PARAMETER_SET};
use app::model::artifact::ModelArtifact;
use app::model::{ApiError, FieldErrors};

/// The largest request body (a 10,000-row seeded request of 100 features is 8 MB).
pub const MAX_BODY: usize = 64 << 20;

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    let mut fields = FieldErrors::new();
    fields.insert(field.to_owned(), message.into());
    ApiError::Validation { fields }
}

fn refusal(e: HeError) -> ApiError {
    match e {
        HeError::Format { field, message } => invalid(field, message),
        HeError::Model(m) => invalid("model", m),
        HeError::Data(m) => invalid("body", m),
        HeError::Random(m) => ApiError::Internal { message: m },
    }
}

/// The quantised model of an artifact, or why it has none.
pub fn quantised(artifact: &ModelArtifact) -> Result<QuantModel, ApiError> {
    let fitted = fitted(&artifact.model).ok_or_else(|| {
        invalid("model.kind", format!("a {} cannot predict on encrypted rows; linear and logistic regression can", artifact.kind.label()))
    })?;
    QuantModel::new(fitted, artifact.preprocessor.width(), QuantSpec::DEFAULT).map_err(refusal)
}

/// `GET /api/models/{id}/he`.
pub fn offer(artifact: &ModelArtifact) -> Result<HeOffer, ApiError> {
    let model = quantised(artifact)?;
    Ok(HeOffer {
        model_id: artifact.id.clone(),
        kind: artifact.kind,
        target: artifact.target.clone(),
        labels: artifact.labels.clone(),
        preprocessor: artifact.preprocessor.clone(),
        parameter_set: PARAMETER_SET,
        lwe_dimension: LWE_DIMENSION,
        noise_bound_log2: NOISE_BOUND_LOG2,
        message_bits: MESSAGE_BITS,
        spec: model.spec,
        weight_scale: model.weight_scale,
        score_scale: model.weight_scale * model.spec.input_scale(),
        features: model.features,
        outputs: model.outputs,
        weight_sum: model.weight_sum(),
        max_weight_sum: MAX_WEIGHT_SUM,
        upload_bytes_per_row: row_bytes(Form::Seeded, model.features),
        answer_bytes_per_row: model.outputs * (LWE_DIMENSION + 1) * 8,
        quality: artifact.he.clone(),
    })
}

/// `POST /api/models/{id}/predict-encrypted`: the answer's bytes and the number of rows.
/// CPU-bound: the caller runs it off the async threads.
pub fn predict(artifact: &ModelArtifact, body: &[u8]) -> Result<(Vec<u8>, usize), ApiError> {
    let model = quantised(artifact)?;
    let request = Request::decode(body).map_err(refusal)?;
    if hex::encode(request.model_id) != artifact.id {
        return Err(invalid("model_id", format!("the request is for model {}, not {}", hex::encode(request.model_id), artifact.id)));
    }
    if request.spec != model.spec {
        return Err(invalid(
            "quantisation",
            format!("the request's quantisation {:?} is not the model's {:?}; fetch the offer again", request.spec, model.spec),
        ));
    }
    if request.features != model.features {
        return Err(invalid("features", format!("the model takes {} encoded features, not {}", model.features, request.features)));
    }
    let ciphertexts = evaluate_rows(&model, &request.rows)?;
    let rows = request.rows.len();
    let answer = Answer { outputs: model.outputs, ciphertexts }.encode();
    debug_assert_eq!(answer.len(), ANSWER_HEADER + rows * model.outputs * (LWE_DIMENSION + 1) * 8);
    Ok((answer, rows))
}

/// Every row's scores, in order; the rows are split across the machine's cores (a row's
/// expansion and evaluation are independent of the others'), so a 10,000-row batch takes a
/// fraction of one core's time.
fn evaluate_rows(model: &QuantModel, rows: &[Row]) -> Result<Vec<Vec<u64>>, ApiError> {
    let one = |row: &Row| match row {
        Row::Seeded { seed, bodies } => evaluate(model, &expand(*seed, bodies)),
        Row::Full(words) => evaluate(model, words),
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = rows.len().div_ceil(threads).max(64);
    let parts: Vec<Result<Vec<Vec<u64>>, HeError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = rows
            .chunks(per)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk.iter().try_fold(Vec::new(), |mut out, row| {
                        out.extend(one(row)?);
                        Ok(out)
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    let mut out = Vec::with_capacity(rows.len() * model.outputs);
    for part in parts {
        out.extend(part.map_err(refusal)?);
    }
    Ok(out)
}
