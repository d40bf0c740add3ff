//! One round of secure aggregation as two state machines without I/O: `Participant` (the
//! browser's worker and the CLI run it) and `Unmasker` (the server runs it). Each checks what
//! it is given against what the protocol allows and refuses the rest with a reason, so a
//! wrong, late or repeated message never turns into a wrong aggregate.
//!
//! The stages (`docs/federated.md`): advertise keys; share (envelopes to every other member of
//! the roster `U1`); masked input (over `U2`, those whose envelopes arrived); reveal (for the
//! survivors `U3`, shares of their self-mask seeds; for `D = U2 \ U3`, shares of their masking
//! keys); unmask.

use std::collections::{BTreeMap, BTreeSet};

use curve25519_dalek::scalar::Scalar;

use super::masks::{self, Advertised, RoundContext, RoundSecrets};
use super::shamir::{self, Share};
use super::shares::{self, SharePair};
use super::FlError;

/// The most subsets of `t` shares the server tries when a rebuilt secret fails its check
/// (someone revealed a garbage share) before it abandons the round.
const MAX_TRIES: usize = 256;

/// Which of a participant's secrets a revealed share belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Secret {
    /// `m_v`, revealed only for a participant who dropped out before sending its input.
    Mask,
    /// `b_u`, revealed only for a participant whose input arrived.
    SelfSeed,
}

/// One revealed share: `holder`'s share of `of`'s secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reveal {
    pub secret: Secret,
    pub of: u16,
    pub holder: u16,
    pub y: Scalar,
}

/// A reveal on the wire: 37 bytes, `kind` (1 = mask, 2 = self-mask seed) ‖ BE16(of) ‖
/// BE16(holder) ‖ the share (a canonical scalar).
pub const REVEAL_LEN: usize = 37;

impl Reveal {
    pub fn to_bytes(&self) -> [u8; REVEAL_LEN] {
        let mut out = [0u8; REVEAL_LEN];
        out[0] = match self.secret {
            Secret::Mask => 1,
            Secret::SelfSeed => 2,
        };
        out[1..3].copy_from_slice(&self.of.to_be_bytes());
        out[3..5].copy_from_slice(&self.holder.to_be_bytes());
        out[5..].copy_from_slice(self.y.as_bytes());
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Reveal, FlError> {
        let bad = |what: &str| FlError::Protocol(format!("a revealed share {what}"));
        if bytes.len() != REVEAL_LEN {
            return Err(bad(&format!("is {REVEAL_LEN} bytes, not {}", bytes.len())));
        }
        let secret = match bytes[0] {
            1 => Secret::Mask,
            2 => Secret::SelfSeed,
            _ => return Err(bad("has an unknown kind")),
        };
        let y: [u8; 32] = bytes[5..].try_into().map_err(|_| bad("is cut short"))?;
        let y = Option::from(Scalar::from_canonical_bytes(y)).ok_or_else(|| bad("is not a canonical scalar"))?;
        Ok(Reveal { secret, of: u16::from_be_bytes([bytes[1], bytes[2]]), holder: u16::from_be_bytes([bytes[3], bytes[4]]), y })
    }
}

fn protocol(message: impl Into<String>) -> FlError {
    FlError::Protocol(message.into())
}

/// The participant's side of one round.
pub struct Participant {
    context: RoundContext,
    me: u16,
    threshold: usize,
    secrets: RoundSecrets,
    roster: BTreeMap<u16, Advertised>,
    /// Shares of others' secrets held at `x = me`, by sender (and the participant's own).
    held: BTreeMap<u16, SharePair>,
    /// `U2`: whom the masked input was masked with (self included), once sent.
    masked_with: Option<BTreeSet<u16>>,
}

impl Participant {
    pub fn new(context: RoundContext, me: u16, threshold: usize) -> Result<Participant, FlError> {
        if me == 0 || threshold == 0 {
            return Err(protocol("participant numbers and the threshold start at 1"));
        }
        Ok(Participant {
            context,
            me,
            threshold,
            secrets: RoundSecrets::generate()?,
            roster: BTreeMap::new(),
            held: BTreeMap::new(),
            masked_with: None,
        })
    }

    /// Stage 1: the keys and commitment to publish.
    pub fn advertise(&self) -> Advertised {
        self.secrets.advertised()
    }

    /// Stage 2: given the roster `U1` (everyone who advertised, this participant included
    /// with exactly what it advertised), the share envelopes to send, one per other member.
    pub fn share(&mut self, roster: &[(u16, Advertised)]) -> Result<Vec<(u16, Vec<u8>)>, FlError> {
        if !self.roster.is_empty() {
            return Err(protocol("the shares of this round were already made"));
        }
        let members: BTreeMap<u16, Advertised> = roster.iter().cloned().collect();
        if members.len() != roster.len() {
            return Err(protocol("the roster names a participant twice"));
        }
        if members.get(&self.me) != Some(&self.advertise()) {
            return Err(protocol("the roster does not carry this participant's own keys"));
        }
        if members.len() < self.threshold || members.contains_key(&0) {
            return Err(protocol(format!("a roster of {} cannot meet the threshold {}", members.len(), self.threshold)));
        }
        let holders: Vec<u16> = members.keys().copied().collect();
        let mask = shamir::split(&self.secrets.mask_secret, self.threshold, &holders)?;
        let seed = shamir::split(&self.secrets.self_secret, self.threshold, &holders)?;
        let mut out = Vec::with_capacity(holders.len() - 1);
        for ((&to, m), b) in holders.iter().zip(&mask).zip(&seed) {
            let pair = SharePair { from: self.me, to, mask: m.y, self_seed: b.y };
            if to == self.me {
                self.held.insert(self.me, pair);
            } else {
                out.push((to, shares::seal(&pair, &self.secrets.share_key, &members[&to].share_public, &self.context)?));
            }
        }
        self.roster = members;
        Ok(out)
    }

    /// Stage 3: opens the envelopes addressed to this participant (`(from, sealed)`, from
    /// everyone in `U2` but itself) and masks `values` over `U2`.
    pub fn masked_input(&mut self, envelopes: &[(u16, Vec<u8>)], values: &[u64]) -> Result<Vec<u64>, FlError> {
        if self.roster.is_empty() {
            return Err(protocol("the shares must be made before the input"));
        }
        if self.masked_with.is_some() {
            return Err(protocol("the masked input of this round was already made"));
        }
        let mut with: BTreeSet<u16> = BTreeSet::from([self.me]);
        for (from, sealed) in envelopes {
            let sender = self.roster.get(from).ok_or_else(|| protocol(format!("participant {from} is not in this round")))?;
            if !with.insert(*from) {
                return Err(protocol(format!("two envelopes from participant {from}")));
            }
            let pair = shares::open(sealed, *from, self.me, &self.secrets.share_key, &sender.share_public, &self.context)?;
            self.held.insert(*from, pair);
        }
        if with.len() < self.threshold {
            return Err(protocol(format!("{} participants cannot meet the threshold {}", with.len(), self.threshold)));
        }
        let peers: Vec<(u16, [u8; 32])> = with.iter().map(|v| (*v, self.roster[v].mask_public)).collect();
        let y = self.secrets.mask(values, self.me, &peers, &self.context)?;
        self.masked_with = Some(with);
        Ok(y)
    }

    /// Stage 4: the shares to reveal for the survivors `U3` (self-mask seeds) and the dropped
    /// `D` (masking keys). Refuses a request that would reveal both secrets of anyone, that
    /// names someone not masked with, or that cannot reach the threshold.
    pub fn reveal(&self, survivors: &[u16], dropped: &[u16]) -> Result<Vec<Reveal>, FlError> {
        let with = self.masked_with.as_ref().ok_or_else(|| protocol("nothing to reveal before the masked input"))?;
        let (u3, d): (BTreeSet<u16>, BTreeSet<u16>) = (survivors.iter().copied().collect(), dropped.iter().copied().collect());
        if u3.len() != survivors.len() || d.len() != dropped.len() {
            return Err(protocol("the unmasking request names a participant twice"));
        }
        if !u3.is_disjoint(&d) {
            return Err(protocol("the unmasking request names a participant as survivor and as dropped"));
        }
        if !u3.contains(&self.me) {
            return Err(protocol("this participant's input is not among the survivors"));
        }
        if u3.len() < self.threshold {
            return Err(protocol(format!("{} survivors cannot meet the threshold {}", u3.len(), self.threshold)));
        }
        if let Some(v) = u3.iter().chain(&d).find(|v| !with.contains(v)) {
            return Err(protocol(format!("participant {v} was not part of this masked sum")));
        }
        if let Some(v) = with.iter().find(|v| !u3.contains(v) && !d.contains(v)) {
            return Err(protocol(format!("the unmasking request leaves out participant {v}")));
        }
        let share = |v: &u16| self.held.get(v).ok_or_else(|| protocol(format!("no share of participant {v} is held")));
        let mut out = Vec::with_capacity(with.len());
        for u in &u3 {
            out.push(Reveal { secret: Secret::SelfSeed, of: *u, holder: self.me, y: share(u)?.self_seed });
        }
        for v in &d {
            out.push(Reveal { secret: Secret::Mask, of: *v, holder: self.me, y: share(v)?.mask });
        }
        Ok(out)
    }
}

/// The server's side of one round's unmasking.
pub struct Unmasker {
    context: RoundContext,
    threshold: usize,
    roster: BTreeMap<u16, Advertised>,
    /// `U3`'s masked inputs.
    inputs: BTreeMap<u16, Vec<u64>>,
    /// `D`: masked with but no input.
    dropped: BTreeSet<u16>,
    /// Revealed shares by (secret, of), each from a distinct holder.
    revealed: BTreeMap<(Secret, u16), BTreeMap<u16, Scalar>>,
    responders: BTreeSet<u16>,
}

impl Unmasker {
    /// `masked_with` is `U2`; `inputs` the masked inputs that arrived (`U3 ⊆ U2`).
    pub fn new(
        context: RoundContext,
        threshold: usize,
        roster: &[(u16, Advertised)],
        masked_with: &BTreeSet<u16>,
        inputs: BTreeMap<u16, Vec<u64>>,
    ) -> Result<Unmasker, FlError> {
        let roster: BTreeMap<u16, Advertised> = roster.iter().cloned().collect();
        if let Some(u) = inputs.keys().chain(masked_with).find(|u| !roster.contains_key(u)) {
            return Err(protocol(format!("participant {u} is not in the roster")));
        }
        if let Some(u) = inputs.keys().find(|u| !masked_with.contains(u)) {
            return Err(protocol(format!("participant {u} sent an input without taking part in the shares")));
        }
        let len = inputs.values().next().map_or(0, Vec::len);
        if inputs.values().any(|v| v.len() != len) {
            return Err(protocol("the masked inputs differ in length"));
        }
        if inputs.len() < threshold {
            return Err(protocol(format!("{} inputs cannot meet the threshold {threshold}: the round is abandoned", inputs.len())));
        }
        let dropped = masked_with.iter().filter(|u| !inputs.contains_key(u)).copied().collect();
        Ok(Unmasker { context, threshold, roster, inputs, dropped, revealed: BTreeMap::new(), responders: BTreeSet::new() })
    }

    /// Who survived (`U3`) and who dropped (`D`): the unmasking request every survivor gets.
    pub fn request(&self) -> (Vec<u16>, Vec<u16>) {
        (self.inputs.keys().copied().collect(), self.dropped.iter().copied().collect())
    }

    /// A survivor's reveals: exactly one share of each survivor's seed and each dropped one's
    /// mask, all held by `from`. Anything else is refused and nothing of it is kept.
    pub fn add(&mut self, from: u16, reveals: &[Reveal]) -> Result<(), FlError> {
        if !self.inputs.contains_key(&from) {
            return Err(protocol(format!("participant {from} is not a survivor of this round")));
        }
        if self.responders.contains(&from) {
            return Err(protocol(format!("participant {from} already revealed its shares")));
        }
        let mut want: BTreeSet<(Secret, u16)> = self.inputs.keys().map(|u| (Secret::SelfSeed, *u)).collect();
        want.extend(self.dropped.iter().map(|v| (Secret::Mask, *v)));
        let mut got = BTreeSet::new();
        for r in reveals {
            if r.holder != from {
                return Err(protocol(format!("participant {from} sent a share held by participant {}", r.holder)));
            }
            if !want.contains(&(r.secret, r.of)) {
                return Err(protocol(format!("participant {from} revealed a share the server did not ask for (of participant {})", r.of)));
            }
            if !got.insert((r.secret, r.of)) {
                return Err(protocol(format!("participant {from} revealed one share twice")));
            }
        }
        if got != want {
            return Err(protocol(format!("participant {from} left out shares the server asked for")));
        }
        for r in reveals {
            self.revealed.entry((r.secret, r.of)).or_default().insert(from, r.y);
        }
        self.responders.insert(from);
        Ok(())
    }

    /// Whether enough survivors have revealed to try the unmasking.
    pub fn ready(&self) -> bool {
        self.responders.len() >= self.threshold
    }

    /// The sum of the survivors' unmasked inputs, or the reason the round must be abandoned.
    pub fn finish(&self) -> Result<Vec<u64>, FlError> {
        if !self.ready() {
            return Err(protocol(format!("{} of the {} shares needed were revealed", self.responders.len(), self.threshold)));
        }
        let mut selfs = Vec::with_capacity(self.inputs.len());
        for u in self.inputs.keys() {
            let commitment = self.roster[u].self_commitment;
            selfs.push(self.rebuild(Secret::SelfSeed, *u, |b| masks::self_commitment(b) == commitment)?);
        }
        let mut dropped = Vec::with_capacity(self.dropped.len());
        for v in &self.dropped {
            let public = self.roster[v].mask_public;
            let m = self.rebuild(Secret::Mask, *v, |m| x25519_dalek::PublicKey::from(&masks::mask_key(m)).to_bytes() == public)?;
            dropped.push((*v, m));
        }
        let mut sum = masks::sum(&self.inputs.values().cloned().collect::<Vec<_>>());
        let survivors: Vec<(u16, [u8; 32])> = self.inputs.keys().map(|u| (*u, self.roster[u].mask_public)).collect();
        masks::unmask(&mut sum, &selfs, &dropped, &survivors, &self.context)?;
        Ok(sum)
    }

    /// Rebuilds one secret from `t` of its revealed shares that pass `check`, trying other
    /// choices of `t` when a garbage share spoils one.
    fn rebuild(&self, secret: Secret, of: u16, check: impl Fn(&Scalar) -> bool) -> Result<Scalar, FlError> {
        let shares: Vec<Share> =
            self.revealed.get(&(secret, of)).map(|m| m.iter().map(|(x, y)| Share { x: *x, y: *y }).collect()).unwrap_or_default();
        let t = self.threshold;
        if shares.len() < t {
            return Err(protocol(format!("too few shares to rebuild participant {of}'s secret")));
        }
        let mut pick: Vec<usize> = (0..t).collect();
        for _ in 0..MAX_TRIES {
            let chosen: Vec<Share> = pick.iter().map(|&i| shares[i]).collect();
            let s = shamir::combine(&chosen, t)?;
            if check(&s) {
                return Ok(s);
            }
            // The next t-subset in lexicographic order.
            let Some(i) = (0..t).rev().find(|&i| pick[i] < shares.len() - t + i) else { break };
            pick[i] += 1;
            for j in i + 1..t {
                pick[j] = pick[j - 1] + 1;
            }
        }
        Err(protocol(format!(
            "participant {of}'s secret could not be rebuilt from the revealed shares (a garbage share?): the round is abandoned"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Round {
        ctx: RoundContext,
        parts: Vec<Participant>,
        roster: Vec<(u16, Advertised)>,
        envelopes: BTreeMap<u16, Vec<(u16, Vec<u8>)>>,
    }

    /// `n` participants through the share stage; envelopes indexed by recipient.
    fn shared(n: u16, t: usize) -> Round {
        let ctx = RoundContext { federation: "f".into(), round: 1 };
        let mut parts: Vec<Participant> = (1..=n).map(|u| Participant::new(ctx.clone(), u, t).unwrap()).collect();
        let roster: Vec<(u16, Advertised)> = parts.iter().map(|p| (p.me, p.advertise())).collect();
        let mut envelopes: BTreeMap<u16, Vec<(u16, Vec<u8>)>> = BTreeMap::new();
        for p in &mut parts {
            for (to, sealed) in p.share(&roster).unwrap() {
                envelopes.entry(to).or_default().push((p.me, sealed));
            }
        }
        Round { ctx, parts, roster, envelopes }
    }

    fn input(u: u16) -> Vec<u64> {
        vec![u64::from(u), 100 * u64::from(u), u64::MAX - u64::from(u)]
    }

    #[test]
    fn a_round_with_a_dropout_at_each_stage_sums_exactly_the_survivors() {
        let mut r = shared(6, 3);
        // Participant 6 never receives its envelopes' senders back (drops before the input
        // stage, after sharing): the others still mask with it, as U2 = everyone who shared.
        let mut inputs = BTreeMap::new();
        for p in r.parts.iter_mut().filter(|p| p.me != 6 && p.me != 5) {
            let env = r.envelopes[&p.me].clone();
            inputs.insert(p.me, p.masked_input(&env, &input(p.me)).unwrap());
        }
        // Participant 5 computed its input but it never arrived: also dropped.
        let u2: BTreeSet<u16> = (1..=6).collect();
        let mut un = Unmasker::new(r.ctx.clone(), 3, &r.roster, &u2, inputs.clone()).unwrap();
        let (u3, d) = un.request();
        assert_eq!((u3.clone(), d.clone()), (vec![1, 2, 3, 4], vec![5, 6]));
        // Participant 4 drops before revealing; three reveals meet t = 3.
        for p in r.parts.iter().filter(|p| p.me <= 3) {
            un.add(p.me, &p.reveal(&u3, &d).unwrap()).unwrap();
        }
        assert!(un.ready());
        let want = masks::sum(&(1..=4).map(input).collect::<Vec<_>>());
        assert_eq!(un.finish().unwrap(), want);
        for (u, y) in &inputs {
            assert_ne!(y, &input(*u), "no stored input is a participant's update");
        }
    }

    #[test]
    fn a_garbage_share_is_outvoted_and_too_few_shares_abandon() {
        let mut r = shared(5, 3);
        let mut inputs = BTreeMap::new();
        for p in r.parts.iter_mut() {
            let env = r.envelopes[&p.me].clone();
            inputs.insert(p.me, p.masked_input(&env, &input(p.me)).unwrap());
        }
        let u2: BTreeSet<u16> = (1..=5).collect();
        let mut un = Unmasker::new(r.ctx.clone(), 3, &r.roster, &u2, inputs.clone()).unwrap();
        let (u3, d) = un.request();
        let mut bad = r.parts[0].reveal(&u3, &d).unwrap();
        bad[2].y += Scalar::ONE;
        un.add(1, &bad).unwrap();
        un.add(2, &r.parts[1].reveal(&u3, &d).unwrap()).unwrap();
        assert!(un.add(2, &r.parts[1].reveal(&u3, &d).unwrap()).is_err(), "a second reveal");
        assert!(un.add(9, &[]).is_err(), "a non-member");
        assert!(un.finish().is_err(), "two responders of three");
        un.add(3, &r.parts[2].reveal(&u3, &d).unwrap()).unwrap();
        // Participant 3's seed has only one good choice of 3 shares among {1 (bad), 2, 3}: none.
        assert!(un.finish().unwrap_err().to_string().contains("could not be rebuilt"));
        un.add(4, &r.parts[3].reveal(&u3, &d).unwrap()).unwrap();
        assert_eq!(un.finish().unwrap(), masks::sum(&(1..=5).map(input).collect::<Vec<_>>()), "shares 2, 3, 4 outvote the garbage");
    }

    #[test]
    fn participants_refuse_what_the_protocol_does_not_allow() {
        let mut r = shared(4, 3);
        let p = &mut r.parts[0];
        assert!(p.share(&r.roster).is_err(), "sharing twice");
        let env = r.envelopes[&1].clone();
        assert!(p.masked_input(&[env[0].clone(), env[0].clone()], &input(1)).is_err(), "two envelopes from one sender");
        let mut wrong = env.clone();
        wrong[0].0 = 3; // claims to be from 3 but was sealed by 2
        assert!(p.masked_input(&wrong, &input(1)).is_err());
        assert!(p.masked_input(&[(9, env[0].1.clone())], &input(1)).is_err(), "a non-member");
        assert!(p.reveal(&[1, 2, 3], &[]).is_err(), "before the input");
        p.masked_input(&env, &input(1)).unwrap();
        assert!(p.masked_input(&env, &input(1)).is_err(), "a second input");
        assert!(p.reveal(&[1, 2, 3], &[3]).is_err(), "both secrets of participant 3");
        assert!(p.reveal(&[2, 3, 4], &[1]).is_err(), "this participant among the dropped");
        assert!(p.reveal(&[1, 2], &[3, 4]).is_err(), "below the threshold");
        assert!(p.reveal(&[1, 2, 3], &[]).is_err(), "participant 4 left out");
        assert_eq!(p.reveal(&[1, 2, 3], &[4]).unwrap().len(), 4);
        let bytes = p.reveal(&[1, 2, 3], &[4]).unwrap()[3].to_bytes();
        assert_eq!(Reveal::from_bytes(&bytes).unwrap(), p.reveal(&[1, 2, 3], &[4]).unwrap()[3]);
        assert!(Reveal::from_bytes(&bytes[..36]).is_err());
        let mut kind = bytes;
        kind[0] = 7;
        assert!(Reveal::from_bytes(&kind).is_err());
        // A roster that does not carry the participant's own keys is refused.
        let mut other = Participant::new(r.ctx.clone(), 1, 3).unwrap();
        assert!(other.share(&r.roster).is_err());
    }
}
