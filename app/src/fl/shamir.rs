//! Shamir secret sharing over the scalar field of curve25519 (integers modulo the prime
//! ℓ = 2^252 + 27742317777372353535851937790883648493), with the field arithmetic of
//! `curve25519-dalek`. Written here rather than taken from a sharing crate because it is two
//! short functions over a field we already use, and the crates that offer it (vsss-rs 6,
//! blahaj) would bring another `rand` generation and elliptic-curve stacks into the browser
//! bundle. A secret is one field element; a share is `(x, f(x))` for a random polynomial `f`
//! of degree `t - 1` with `f(0)` the secret, `x` the holder's participant number (≥ 1).

use curve25519_dalek::scalar::Scalar;
use zeroize::Zeroize;

use super::FlError;

/// One holder's share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Share {
    pub x: u16,
    pub y: Scalar,
}

/// A uniformly random field element (64 random bytes reduced modulo ℓ).
pub fn random_scalar() -> Result<Scalar, FlError> {
    let mut wide = [0u8; 64];
    getrandom::fill(&mut wide).map_err(|e| FlError::Random(e.to_string()))?;
    let s = Scalar::from_bytes_mod_order_wide(&wide);
    wide.zeroize();
    Ok(s)
}

/// Splits `secret` into one share per holder in `xs` (distinct, non-zero), any `threshold` of
/// which recover it and fewer reveal nothing.
pub fn split(secret: &Scalar, threshold: usize, xs: &[u16]) -> Result<Vec<Share>, FlError> {
    check_holders(threshold, xs)?;
    let mut coefficients = vec![*secret];
    for _ in 1..threshold {
        coefficients.push(random_scalar()?);
    }
    let shares = xs
        .iter()
        .map(|&x| {
            // Horner's rule from the highest coefficient down.
            let at = Scalar::from(u64::from(x));
            let y = coefficients.iter().rev().fold(Scalar::ZERO, |acc, c| acc * at + c);
            Share { x, y }
        })
        .collect();
    coefficients.zeroize();
    Ok(shares)
}

/// The secret from `threshold` shares with distinct `x` (Lagrange interpolation at 0). With
/// fewer it refuses: interpolating them would give a wrong value, not an error.
pub fn combine(shares: &[Share], threshold: usize) -> Result<Scalar, FlError> {
    let xs: Vec<u16> = shares.iter().map(|s| s.x).collect();
    check_holders(threshold, &xs)?;
    let used = &shares[..threshold];
    let mut secret = Scalar::ZERO;
    for (i, si) in used.iter().enumerate() {
        let xi = Scalar::from(u64::from(si.x));
        let (mut num, mut den) = (Scalar::ONE, Scalar::ONE);
        for (j, sj) in used.iter().enumerate() {
            if i != j {
                let xj = Scalar::from(u64::from(sj.x));
                num *= xj;
                den *= xj - xi;
            }
        }
        secret += si.y * num * den.invert();
    }
    Ok(secret)
}

fn check_holders(threshold: usize, xs: &[u16]) -> Result<(), FlError> {
    if threshold == 0 {
        return Err(FlError::Sharing("the threshold must be at least 1".into()));
    }
    if xs.len() < threshold {
        return Err(FlError::Sharing(format!("{} shares cannot meet a threshold of {threshold}", xs.len())));
    }
    if xs.contains(&0) {
        return Err(FlError::Sharing("share number 0 would be the secret itself".into()));
    }
    let mut sorted = xs.to_vec();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err(FlError::Sharing("two shares have the same number".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_threshold_shares_recover_the_secret_and_fewer_are_refused() {
        let secret = random_scalar().unwrap();
        let shares = split(&secret, 3, &[1, 2, 3, 4, 5]).unwrap();
        for picked in [[0, 1, 2], [4, 2, 0], [1, 3, 4]] {
            let subset: Vec<Share> = picked.iter().map(|&i| shares[i]).collect();
            assert_eq!(combine(&subset, 3).unwrap(), secret);
        }
        assert!(combine(&shares[..2], 3).is_err(), "below the threshold");
        // Two shares of a threshold-3 secret interpolate to something else: why `combine` refuses.
        assert_ne!(combine(&shares[..2], 2).unwrap(), secret);
        let mut bad = shares[..3].to_vec();
        bad[1].y += Scalar::ONE;
        assert_ne!(combine(&bad, 3).unwrap(), secret, "a garbage share gives a wrong secret, which the caller must detect");
    }

    #[test]
    fn holders_must_be_distinct_and_non_zero() {
        let s = Scalar::from(7u64);
        assert!(split(&s, 2, &[1, 1, 2]).is_err());
        assert!(split(&s, 2, &[0, 1]).is_err());
        assert!(split(&s, 0, &[1]).is_err());
        assert!(split(&s, 3, &[1, 2]).is_err());
        assert_eq!(combine(&split(&s, 1, &[9]).unwrap(), 1).unwrap(), s);
    }
}
