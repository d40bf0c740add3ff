//! What the app's benchmarks share.

use std::time::Instant;

/// The fastest of three runs, in seconds: the figure least disturbed by the rest of the machine.
pub fn best_of_3(mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}
