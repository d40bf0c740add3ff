//! A participant's side of a federation, without I/O: given what the server shows
//! (`RoundView`) and the participant's rows, the next message to send, if any. The CLI and
//! the browser's worker run it in a loop (fetch the view, send what `next` returns, wait), so
//! both speak the protocol through one piece of code.

use super::masks::RoundContext;
use super::plan::{self, Known};
use super::round::Participant;
use super::train::{FlTask, LocalData};
use super::{wire, FlError};
use crate::ml::metrics::Metrics;
use crate::model::federation::{ActiveRound, Envelope, InputMessage, KeysMessage, Phase, RevealMessage, RoundView, SharesMessage, Stage};

/// What to send next.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    Keys(KeysMessage),
    Shares(SharesMessage),
    Input(InputMessage),
    Reveal(RevealMessage),
}

/// A message for `POST /api/federations/{id}/rounds/{round}/{stage}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    pub round: u32,
    pub stage: Stage,
    pub phase: Phase,
    pub message: Message,
    /// For an input: values outside the encoding's range, clipped to it (shown, never hidden).
    pub clipped: usize,
    /// For a training step's input: the participant's own model on its own rows.
    pub local: Option<Metrics>,
}

impl Outgoing {
    /// The JSON body of the request.
    pub fn body(&self) -> Result<String, FlError> {
        let text = match &self.message {
            Message::Keys(m) => serde_json::to_string(m),
            Message::Shares(m) => serde_json::to_string(m),
            Message::Input(m) => serde_json::to_string(m),
            Message::Reveal(m) => serde_json::to_string(m),
        };
        text.map_err(|e| FlError::Protocol(e.to_string()))
    }
}

/// One participant of one federation.
pub struct Client {
    federation: String,
    task: FlTask,
    /// Orders local mini-batches; varied by step.
    seed: u64,
    /// This round's secrets, from its keys stage on. A participant that did not advertise in a
    /// round (it came late, or restarted) sits it out and takes part in the next.
    current: Option<(u32, Participant)>,
    /// The last message made, resent as is if the server has not recorded it (a lost
    /// response), because the secret state behind it moves only once per stage.
    pending: Option<Outgoing>,
}

impl Client {
    pub fn new(federation: impl Into<String>, task: FlTask) -> Result<Client, FlError> {
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed).map_err(|e| FlError::Random(e.to_string()))?;
        Ok(Client::with_seed(federation, task, u64::from_le_bytes(seed)))
    }

    /// A client whose local training is reproducible (`plan::contribution` with this seed
    /// gives its values); the masks stay random.
    pub fn with_seed(federation: impl Into<String>, task: FlTask, seed: u64) -> Client {
        Client { federation: federation.into(), task, seed, current: None, pending: None }
    }

    /// The message the current stage asks of this participant, or `None` (nothing to do: not
    /// a member, already sent, sitting this round out, or no round open).
    ///
    /// An error means this participant cannot take part in the round (its rows do not fit
    /// the task, or the round's messages break the protocol); it sits the round out and
    /// `next` returns `None` until the next round.
    pub fn next(&mut self, view: &RoundView, data: &LocalData) -> Result<Option<Outgoing>, FlError> {
        let (Some(me), Some(r)) = (view.you, view.round.as_ref()) else { return Ok(None) };
        if r.sent {
            return Ok(None);
        }
        if let Some(p) = &self.pending {
            if p.round == r.round && p.stage == r.stage {
                return Ok(Some(p.clone()));
            }
        }
        if self.current.as_ref().is_some_and(|(round, _)| *round != r.round) {
            self.current = None;
        }
        let made = self.make(view, r, me, data);
        if made.is_err() {
            self.current = None;
        }
        let out = made?;
        self.pending.clone_from(&out);
        Ok(out)
    }

    fn make(&mut self, view: &RoundView, r: &ActiveRound, me: u16, data: &LocalData) -> Result<Option<Outgoing>, FlError> {
        let out = |message, clipped, local| Outgoing { round: r.round, stage: r.stage, phase: r.phase, message, clipped, local };
        if r.stage == Stage::Keys {
            if r.sampled.as_ref().is_some_and(|s| !s.contains(&me)) {
                // Not sampled for this round of a private federation: it waits for the next.
                return Ok(None);
            }
            let ctx = RoundContext { federation: self.federation.clone(), round: r.round };
            let p = Participant::new(ctx, me, usize::from(r.threshold))?;
            let keys = wire::keys_message(&p.advertise());
            self.current = Some((r.round, p));
            return Ok(Some(out(Message::Keys(keys), 0, None)));
        }
        let Some((_, p)) = self.current.as_mut() else { return Ok(None) };
        match r.stage {
            Stage::Keys => Ok(None),
            Stage::Shares => {
                if !r.roster.iter().any(|e| e.number == me) {
                    return Ok(None);
                }
                let roster = r.roster.iter().map(|e| Ok((e.number, wire::advertised(&e.keys)?))).collect::<Result<Vec<_>, FlError>>()?;
                let envelopes =
                    p.share(&roster)?.into_iter().map(|(to, sealed)| Envelope { peer: to, sealed: wire::envelope_text(&sealed) }).collect();
                Ok(Some(out(Message::Shares(SharesMessage { envelopes }), 0, None)))
            }
            Stage::Input => {
                let known = Known { means: view.means.clone(), params: view.params.clone(), threshold: r.threshold, population: 0 };
                let c = plan::contribution(&self.task, r.phase, &known, data, self.seed)?;
                let encoded = c.encoding.encode(&c.values, c.rows)?;
                if encoded.values.len() != r.vector_len as usize {
                    return Err(FlError::Protocol(format!(
                        "this participant's vector has {} words but the round expects {}",
                        encoded.values.len(),
                        r.vector_len
                    )));
                }
                let envelopes = r
                    .envelopes
                    .iter()
                    .map(|e| Ok((e.peer, wire::envelope("envelopes", &e.sealed)?)))
                    .collect::<Result<Vec<_>, FlError>>()?;
                let masked = p.masked_input(&envelopes, &encoded.values)?;
                Ok(Some(out(Message::Input(InputMessage { masked: wire::words_text(&masked) }), encoded.clipped, c.local)))
            }
            Stage::Reveal => {
                if !r.survivors.contains(&me) {
                    return Ok(None);
                }
                let reveals = p.reveal(&r.survivors, &r.dropped)?;
                Ok(Some(out(Message::Reveal(RevealMessage { shares: wire::reveals_text(&reveals) }), 0, None)))
            }
        }
    }
}
