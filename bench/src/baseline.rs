//! What this machine does with Automerge alone, for scale: the server's ingest can be no
//! faster than decoding, applying and saving the same documents on one core.

use crate::records;
use automerge::{ActorId, Automerge, Change};
use std::time::{Duration, Instant};

pub struct Baseline {
    pub records: usize,
    pub elapsed: Duration,
}

/// Decodes each record's four changes, applies them in one `apply_changes` and saves the
/// document, one record after another on this thread.
pub fn automerge_alone(n: usize) -> anyhow::Result<Baseline> {
    let actor = ActorId::random();
    let pushed: Vec<Vec<Vec<u8>>> = (0..n)
        .map(|i| {
            let f = records::fields(
                uuid::Uuid::new_v4().to_string(),
                records::BYW_GRIDS[i % 6],
                1,
                i,
            );
            records::all_changes(&records::make_record(&actor, &f))
        })
        .collect();
    let started = Instant::now();
    let mut bytes = 0usize;
    for changes in pushed {
        let changes = changes
            .into_iter()
            .map(Change::from_bytes)
            .collect::<Result<Vec<_>, _>>()?;
        let mut doc = Automerge::new();
        doc.apply_changes(changes)?;
        bytes += doc.save().len();
    }
    std::hint::black_box(bytes);
    Ok(Baseline {
        records: n,
        elapsed: started.elapsed(),
    })
}
