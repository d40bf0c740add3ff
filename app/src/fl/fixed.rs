//! Model updates as integers modulo 2^64, the ring secure aggregation adds in: masks are
//! uniformly random there, so a masked value says nothing, and the sum of the encodings is
//! the encoding of the sum as long as it does not wrap.
//!
//! A participant with `n` training rows and weights `w` sends `[n·q(w_0), …, n·q(w_{d-1}), n]`
//! with `q(w)` the fixed-point value below, in two's complement. The sum over participants
//! is then `[Σ n·q(w_i)…, Σ n]`, from which the sample-weighted mean (FedAvg) follows, and the
//! sample counts stay masked like the weights.
//!
//! Two encodings, both keeping every sum below 2^62 in magnitude for at most `MAX_ROWS` rows
//! in a round (so it never wraps): `WEIGHTS` (model parameters: `|w| ≤ 2^15`, resolution
//! 2^-24 ≈ 6·10^-8) and `MOMENTS` (the feature statistics of round 0: `|w| ≤ 2^29`, resolution
//! 2^-10). A value outside the range is clipped and counted (`Encoded::clipped`), never silently.

use super::FlError;

/// The most training rows all participants of a round may have together.
pub const MAX_ROWS: u64 = 1 << 23;

/// A fixed-point format: `q(w) = round(clamp(w, ±clip) · 2^scale_bits)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Encoding {
    pub scale_bits: u32,
    pub clip: f64,
}

impl Encoding {
    /// Model parameters.
    pub const WEIGHTS: Encoding = Encoding { scale_bits: 24, clip: 32768.0 };
    /// Means of features and of their squares (round 0).
    pub const MOMENTS: Encoding = Encoding { scale_bits: 10, clip: 536_870_912.0 };

    fn scale(self) -> f64 {
        (1u64 << self.scale_bits) as f64
    }

    fn quantise(self, w: f64) -> (i64, bool) {
        let clipped = w.abs() > self.clip;
        ((w.clamp(-self.clip, self.clip) * self.scale()).round() as i64, clipped)
    }

    /// Encodes values computed on `rows` rows. Refuses non-finite values and an empty or
    /// oversized row count rather than sending something the sum cannot hold.
    pub fn encode(self, weights: &[f64], rows: u64) -> Result<Encoded, FlError> {
        if rows == 0 || rows > MAX_ROWS {
            return Err(FlError::Encoding(format!("a participant needs 1 to {MAX_ROWS} rows, not {rows}")));
        }
        if let Some(i) = weights.iter().position(|w| !w.is_finite()) {
            return Err(FlError::Encoding(format!("value {i} is not a finite number; training diverged (lower the learning rate)")));
        }
        let mut clipped = 0;
        let mut values: Vec<u64> = weights
            .iter()
            .map(|&w| {
                let (q, was_clipped) = self.quantise(w);
                clipped += usize::from(was_clipped);
                // Two's complement: a negative value is 2^64 - |n·q|, and sums wrap back correctly.
                (q.wrapping_mul(rows as i64)) as u64
            })
            .collect();
        values.push(rows);
        Ok(Encoded { values, clipped })
    }

    /// The row-weighted mean of the values from the sum of several encodings.
    pub fn decode_mean(self, sum: &[u64]) -> Result<Vec<f64>, FlError> {
        self.decode(sum).map(|(mean, _)| mean)
    }

    /// The row-weighted mean and the total of rows behind it.
    pub fn decode(self, sum: &[u64]) -> Result<(Vec<f64>, u64), FlError> {
        let (&rows, weights) = sum.split_last().ok_or_else(|| FlError::Encoding("an empty sum".into()))?;
        if rows == 0 || rows > MAX_ROWS {
            return Err(FlError::Encoding(format!(
                "the summed row count {rows} is outside 1 to {MAX_ROWS}: the sum is not a sum of updates"
            )));
        }
        let scale = self.scale() * rows as f64;
        Ok((weights.iter().map(|&v| (v as i64) as f64 / scale).collect(), rows))
    }
}

/// One participant's update, ready to be masked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// `d + 1` values: the values times the row count, then the row count.
    pub values: Vec<u64>,
    /// How many values were outside the encoding's range (shown, never hidden).
    pub clipped: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fl::masks::sum;

    #[test]
    fn the_sum_of_encodings_decodes_to_the_weighted_mean() {
        let w = Encoding::WEIGHTS;
        let a = w.encode(&[1.5, -2.25, 0.0], 10).unwrap();
        let b = w.encode(&[0.5, 0.75, -1e-3], 30).unwrap();
        let mean = w.decode_mean(&sum(&[a.values.clone(), b.values.clone()])).unwrap();
        let expected = [(1.5 * 10.0 + 0.5 * 30.0) / 40.0, (-2.25 * 10.0 + 0.75 * 30.0) / 40.0, (-1e-3 * 30.0) / 40.0];
        for (m, e) in mean.iter().zip(expected) {
            assert!((m - e).abs() <= 2f64.powi(-24), "{m} vs {e}");
        }
        assert_eq!((a.clipped, b.clipped), (0, 0));
    }

    #[test]
    fn out_of_range_weights_are_clipped_and_counted_and_bad_input_is_refused() {
        for enc in [Encoding::WEIGHTS, Encoding::MOMENTS] {
            let c = enc.clip;
            let e = enc.encode(&[1e12, -1e12, 3.0], 2).unwrap();
            assert_eq!(e.clipped, 2);
            assert_eq!(enc.decode_mean(&e.values).unwrap(), [c, -c, 3.0]);
            assert!(enc.encode(&[f64::NAN], 1).unwrap_err().to_string().contains("value 0 is not a finite number"));
            assert!(enc.encode(&[1.0], 0).is_err());
            assert!(enc.encode(&[1.0], MAX_ROWS + 1).is_err());
            // The largest sums stay clear of wrapping: every participant at the bound.
            let big = enc.encode(&[-c, c], MAX_ROWS).unwrap();
            let twice = sum(&[big.values.clone(), big.values.clone()]);
            assert!(enc.decode_mean(&twice).is_err(), "more rows than a round may have");
            assert_eq!(enc.decode_mean(&big.values).unwrap(), [-c, c]);
            assert!(enc.scale_bits as f64 + c.log2() + (MAX_ROWS as f64).log2() <= 62.0);
        }
    }
}
