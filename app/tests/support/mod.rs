//! What the federated tests and the secure-aggregation benchmark share (the benchmark includes
//! this file by path): one round of the protocol in process, every participant present.

use std::collections::{BTreeMap, BTreeSet};

use app::fl::masks::RoundContext;
use app::fl::round::{Participant, Unmasker};

/// One round over encoded `inputs` (participant `i + 1` holds `inputs[i]`), stage by stage
/// with threshold `n / 2 + 1`: the masked inputs the server holds, and the unmasked sum.
pub fn secure_round(federation: &str, round: u32, inputs: &[Vec<u64>]) -> (BTreeMap<u16, Vec<u64>>, Vec<u64>) {
    let n = inputs.len() as u16;
    let t = usize::from(n) / 2 + 1;
    let ctx = RoundContext { federation: federation.into(), round };
    let mut parts: Vec<Participant> = (1..=n).map(|u| Participant::new(ctx.clone(), u, t).expect("participant")).collect();
    let roster: Vec<_> = parts.iter().enumerate().map(|(i, p)| (i as u16 + 1, p.advertise())).collect();
    let mut mail: BTreeMap<u16, Vec<(u16, Vec<u8>)>> = BTreeMap::new();
    for (i, p) in parts.iter_mut().enumerate() {
        for (to, sealed) in p.share(&roster).expect("shares") {
            mail.entry(to).or_default().push((i as u16 + 1, sealed));
        }
    }
    let mut masked = BTreeMap::new();
    for (i, p) in parts.iter_mut().enumerate() {
        masked.insert(i as u16 + 1, p.masked_input(&mail[&(i as u16 + 1)], &inputs[i]).expect("masked input"));
    }
    let everyone: BTreeSet<u16> = (1..=n).collect();
    let mut server = Unmasker::new(ctx, t, &roster, &everyone, masked.clone()).expect("unmasker");
    let (u3, d) = server.request();
    for (i, p) in parts.iter().enumerate() {
        server.add(i as u16 + 1, &p.reveal(&u3, &d).expect("reveal")).expect("reveals accepted");
    }
    (masked, server.finish().expect("unmasked"))
}
