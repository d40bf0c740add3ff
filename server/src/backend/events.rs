//! Replaying a history and then following it live, for every event stream (a job's, a
//! federation's): the subscriber gets each event once, in order, across the seam between the
//! stored history and the broadcast, and the stream ends after the final event.

use std::future::Future;

use tokio::sync::{broadcast, mpsc};

use app::model::federation::FederationEventRecord;
use app::model::job::JobEventRecord;

use super::error::Result;

/// An event with its place in its history.
pub trait Sequenced: Clone + Send + 'static {
    fn seq(&self) -> u64;
    /// Whether nothing follows it.
    fn is_final(&self) -> bool;
}

impl Sequenced for JobEventRecord {
    fn seq(&self) -> u64 {
        self.seq
    }
    fn is_final(&self) -> bool {
        self.event.is_final()
    }
}

impl Sequenced for FederationEventRecord {
    fn seq(&self) -> u64 {
        self.seq
    }
    fn is_final(&self) -> bool {
        self.event.is_final()
    }
}

/// Events of `key` after `after`: the stored ones from `history`, then the live ones from
/// `live` (subscribed by the caller before this reads the history, so nothing falls between).
/// `ended` says whether the source has had its final event: a client resuming after it gets
/// an empty stream instead of one held open for events that will never come.
pub fn follow<R, H, HF, E, EF>(
    mut live: broadcast::Receiver<(String, R)>,
    key: String,
    after: u64,
    history: H,
    ended: E,
) -> mpsc::Receiver<R>
where
    R: Sequenced,
    H: Fn(u64) -> HF + Send + 'static,
    HF: Future<Output = Result<Vec<R>>> + Send,
    E: FnOnce() -> EF + Send + 'static,
    EF: Future<Output = bool> + Send,
{
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut last = after;
        let Ok(mut replay) = history(last).await else { return };
        if replay.is_empty() && after > 0 && ended().await {
            return;
        }
        loop {
            for record in replay.drain(..) {
                last = record.seq();
                let end = record.is_final();
                if tx.send(record).await.is_err() || end {
                    return;
                }
            }
            match live.recv().await {
                Ok((k, record)) if k == key && record.seq() > last => replay.push(record),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => match history(last).await {
                    Ok(h) => replay = h,
                    Err(_) => return,
                },
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    rx
}
