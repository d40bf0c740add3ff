//! Where a request's time went, sent as a `Server-Timing` header (W3C Server Timing): an
//! operator reads the split of a slow prediction in the browser's network panel, and the
//! prediction benchmark reports it without a profiler. The format is one line of
//! `name;dur=milliseconds` entries, too small to be worth a crate.

use std::time::{Duration, Instant};

/// Consecutive phases of one request: each `lap` closes the phase that began at the last one.
#[derive(Debug, Clone)]
pub struct Stopwatch {
    last: Instant,
    phases: Vec<(&'static str, Duration)>,
}

impl Default for Stopwatch {
    fn default() -> Self {
        Stopwatch { last: Instant::now(), phases: Vec::new() }
    }
}

impl Stopwatch {
    /// Ends the current phase as `name` and starts the next.
    pub fn lap(&mut self, name: &'static str) {
        let now = Instant::now();
        self.phases.push((name, now - self.last));
        self.last = now;
    }

    pub fn phases(&self) -> &[(&'static str, Duration)] {
        &self.phases
    }

    /// The header's value: `authz;dur=0.214, open;dur=0.003, …` (milliseconds, three decimals).
    pub fn header_value(&self) -> String {
        entries(&self.phases)
    }
}

/// `Server-Timing` entries for `phases`, in order.
fn entries(phases: &[(&'static str, Duration)]) -> String {
    phases.iter().map(|(name, d)| format!("{name};dur={:.3}", d.as_secs_f64() * 1000.0)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_named_in_order_in_milliseconds() {
        let phases = [("auth", Duration::from_micros(1_250)), ("model", Duration::from_nanos(2_000_400))];
        assert_eq!(entries(&phases), "auth;dur=1.250, model;dur=2.000");
        let mut w = Stopwatch::default();
        std::thread::sleep(Duration::from_millis(2));
        w.lap("first");
        w.lap("second");
        assert_eq!(w.phases().iter().map(|p| p.0).collect::<Vec<_>>(), ["first", "second"]);
        assert!(w.phases()[0].1 >= Duration::from_millis(2) && w.phases()[1].1 < w.phases()[0].1);
        let first: f64 = w.header_value().split(['=', ',']).nth(1).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        assert!(first >= 2.0, "{}", w.header_value());
    }
}
