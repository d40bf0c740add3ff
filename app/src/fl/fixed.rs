//! Model updates as integers modulo 2^64, the ring secure aggregation adds in: masks are
//! uniformly random there, so a masked value says nothing, and the sum of the encodings is
//! the encoding of the sum as long as it does not wrap.
//!
//! A participant with `n` training rows and weights `w` sends `[n·q(w_0), …, n·q(w_{d-1}), n]`
//! with `q(w) = round(clip(w) · 2^SCALE_BITS)` in two's complement. The sum over participants
//! is then `[Σ n·q(w_i)…, Σ n]`, from which the sample-weighted mean (FedAvg) follows, and the
//! sample counts stay masked like the weights.
//!
//! Range: `|w| ≤ CLIP = 2^15` and `Σ n ≤ MAX_ROWS = 2^23` keep every sum below 2^62, so it
//! never wraps; the resolution is 2^-24 ≈ 6·10^-8. A weight outside the range is clipped and
//! counted (`Encoded::clipped`), never silently.

use super::FlError;

/// Fractional bits of a weight.
pub const SCALE_BITS: u32 = 24;
/// The largest magnitude a weight keeps; larger ones are clipped to ±CLIP and counted.
pub const CLIP: f64 = 32768.0;
/// The most training rows all participants of a round may have together.
pub const MAX_ROWS: u64 = 1 << 23;

/// One participant's update, ready to be masked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// `d + 1` values: the weights times the row count, then the row count.
    pub values: Vec<u64>,
    /// How many weights were outside ±CLIP (the client shows this; it is never hidden).
    pub clipped: usize,
}

fn quantise(w: f64) -> (i64, bool) {
    let clipped = w.abs() > CLIP;
    ((w.clamp(-CLIP, CLIP) * f64::from(1u32 << SCALE_BITS)).round() as i64, clipped)
}

/// Encodes weights trained on `rows` rows. Refuses non-finite weights and an empty or
/// oversized row count rather than sending something the sum cannot hold.
pub fn encode(weights: &[f64], rows: u64) -> Result<Encoded, FlError> {
    if rows == 0 || rows > MAX_ROWS {
        return Err(FlError::Encoding(format!("a participant needs 1 to {MAX_ROWS} rows, not {rows}")));
    }
    if let Some(i) = weights.iter().position(|w| !w.is_finite()) {
        return Err(FlError::Encoding(format!("weight {i} is not a finite number; training diverged (lower the learning rate)")));
    }
    let mut clipped = 0;
    let mut values: Vec<u64> = weights
        .iter()
        .map(|&w| {
            let (q, was_clipped) = quantise(w);
            clipped += usize::from(was_clipped);
            // Two's complement: a negative weight is 2^64 - |n·q|, and sums wrap back correctly.
            (q.wrapping_mul(rows as i64)) as u64
        })
        .collect();
    values.push(rows);
    Ok(Encoded { values, clipped })
}

/// The sample-weighted mean of the weights from the sum of several encodings.
pub fn decode_mean(sum: &[u64]) -> Result<Vec<f64>, FlError> {
    let (&rows, weights) = sum.split_last().ok_or_else(|| FlError::Encoding("an empty sum".into()))?;
    if rows == 0 || rows > MAX_ROWS {
        return Err(FlError::Encoding(format!("the summed row count {rows} is outside 1 to {MAX_ROWS}: the sum is not a sum of updates")));
    }
    let scale = f64::from(1u32 << SCALE_BITS) * rows as f64;
    Ok(weights.iter().map(|&v| (v as i64) as f64 / scale).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(a: &[u64], b: &[u64]) -> Vec<u64> {
        a.iter().zip(b).map(|(x, y)| x.wrapping_add(*y)).collect()
    }

    #[test]
    fn the_sum_of_encodings_decodes_to_the_weighted_mean() {
        let a = encode(&[1.5, -2.25, 0.0], 10).unwrap();
        let b = encode(&[0.5, 0.75, -1e-3], 30).unwrap();
        let mean = decode_mean(&add(&a.values, &b.values)).unwrap();
        let expected = [(1.5 * 10.0 + 0.5 * 30.0) / 40.0, (-2.25 * 10.0 + 0.75 * 30.0) / 40.0, (-1e-3 * 30.0) / 40.0];
        for (m, e) in mean.iter().zip(expected) {
            assert!((m - e).abs() <= 2f64.powi(-(SCALE_BITS as i32)), "{m} vs {e}");
        }
        assert_eq!((a.clipped, b.clipped), (0, 0));
    }

    #[test]
    fn out_of_range_weights_are_clipped_and_counted_and_bad_input_is_refused() {
        let e = encode(&[1e9, -1e9, 3.0], 2).unwrap();
        assert_eq!(e.clipped, 2);
        let mean = decode_mean(&e.values).unwrap();
        assert_eq!(mean, [CLIP, -CLIP, 3.0]);
        assert!(encode(&[f64::NAN], 1).unwrap_err().to_string().contains("weight 0 is not a finite number"));
        assert!(encode(&[1.0], 0).is_err());
        assert!(encode(&[1.0], MAX_ROWS + 1).is_err());
        // The largest sums stay clear of wrapping.
        let big = encode(&[-CLIP, CLIP], MAX_ROWS).unwrap();
        assert_eq!(decode_mean(&big.values).unwrap(), [-CLIP, CLIP]);
    }
}
