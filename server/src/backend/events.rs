//! Replaying a history and then following it live, for every event stream (a job's, a
//! federation's): the subscriber gets each event once, in order, across the seam between the
//! stored history and the broadcast, and the stream ends after the final event.
//!
//! Events made on this node arrive by broadcast at once. Events made on another node (a job
//! that node's worker runs) are read from the stored history after the last sequence number
//! sent, every [`POLL`] while the broadcast is quiet: the database is the only thing nodes
//! share. Not SurrealDB's LIVE SELECT, whose notifications the Community edition delivers only
//! to connections of the SurrealDB node that took the write (surrealdb/surrealdb#5070), so a
//! multi-node SurrealDB cluster would miss them; a read by sequence number holds on any
//! deployment, and the stored cursor is the subscriber's own `last`.

use std::future::Future;

use std::time::Duration;

use tokio::sync::{broadcast, mpsc};

use app::model::federation::FederationEventRecord;
use app::model::job::JobEventRecord;

use super::error::Result;

/// How long a subscriber waits on the broadcast before reading the history for events another
/// node stored: the live delay of a job running elsewhere, and one indexed read per quiet interval.
pub const POLL: Duration = Duration::from_millis(500);

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
            let heard = tokio::time::timeout(POLL, live.recv()).await;
            match heard {
                Ok(Ok((k, record))) if k == key && record.seq() > last => replay.push(record),
                Ok(Ok(_)) => {}
                // Quiet (another node may be writing), or too far behind the broadcast: read.
                Err(_) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => match history(last).await {
                    Ok(h) => replay = h,
                    Err(_) => return,
                },
                Ok(Err(broadcast::error::RecvError::Closed)) => return,
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::job::JobEvent;
    use std::sync::{Arc, Mutex};

    fn record(seq: u64, event: JobEvent) -> JobEventRecord {
        JobEventRecord { seq, at: String::new(), event }
    }

    /// A job running on another node: nothing on this node's broadcast, its events only in the
    /// shared history. The subscriber still gets them as they are stored, then the end.
    #[tokio::test]
    async fn events_stored_by_another_node_reach_a_subscriber_here() {
        let (_tx, live) = broadcast::channel::<(String, JobEventRecord)>(8);
        let stored: Arc<Mutex<Vec<JobEventRecord>>> = Arc::new(Mutex::new(vec![record(1, JobEvent::Queued)]));
        let history = {
            let stored = stored.clone();
            move |after: u64| {
                let got: Vec<JobEventRecord> = stored.lock().unwrap().iter().filter(|r| r.seq > after).cloned().collect();
                async move { Ok(got) }
            }
        };
        let mut rx = follow(live, "job".to_owned(), 0, history, || async { false });
        assert_eq!(rx.recv().await.map(|r| r.seq), Some(1));
        let started = std::time::Instant::now();
        stored.lock().unwrap().push(record(2, JobEvent::Started { attempt: 1 }));
        assert_eq!(rx.recv().await.map(|r| r.seq), Some(2));
        assert!(started.elapsed() < POLL * 3, "live within a poll: {:?}", started.elapsed());
        stored.lock().unwrap().push(record(3, JobEvent::Cancelled));
        assert_eq!(rx.recv().await.map(|r| r.seq), Some(3));
        assert!(rx.recv().await.is_none(), "the stream ends after the final event");
    }
}
