//! Step 6: the document saved as it will be stored and sent, proved to load back, within
//! its type's size cap.

use automerge::Automerge;

use super::{Refusal, RefusalCode, guarded, refuse};
use crate::doctype::DocKind;

/// The document and its saved state, once both checks pass.
pub(super) fn saved<K: DocKind>(
    doc_id: &str,
    doc: Automerge,
) -> Result<(Automerge, Vec<u8>), Refusal> {
    let what = K::TYPE;
    let (doc, state) = match guarded(move || saved_and_checked(doc)) {
        Some(Ok(saved)) => saved,
        Some(Err(problem)) => {
            return refuse(
                RefusalCode::Malformed,
                format!("{what} {doc_id}: {problem}"),
            );
        }
        None => {
            return refuse(
                RefusalCode::Malformed,
                format!("{what} {doc_id}: the changes do not save and load back as they came"),
            );
        }
    };
    if state.len() > K::MAX_BYTES {
        return refuse(
            RefusalCode::TooLarge,
            format!(
                "{what} {doc_id} would take {} bytes with this push; a {what} may take at most {} (put photos in attachments, not in the document)",
                state.len(),
                K::MAX_BYTES
            ),
        );
    }
    Ok((doc, state))
}

/// The document saved as it will be stored and sent (undeflated: a pull snapshot travels in
/// a gzipped response, and a phone loads it about a tenth faster undeflated), loaded back
/// to prove it. A change can decode and apply yet carry bytes that a saved document does
/// not keep (surplus data after a column, say); its hash then no longer matches on load,
/// and the stored record would never load again. Re-encoding each change from its
/// operations is not enough: the fuzz of the push path found changes that re-encode to
/// their own hash and still leave a document that does not load.
///
/// The applied document is dropped before the saved one is loaded, and the loaded one is
/// what the caller goes on with: the same document, so a push holds one at a time.
fn saved_and_checked(doc: Automerge) -> Result<(Automerge, Vec<u8>), String> {
    let mut heads = doc.get_heads();
    let state = doc.save_nocompress();
    drop(doc);
    let loaded = Automerge::load(&state).map_err(|e| {
        format!("the changes do not save and load back as they came ({e}); the app that made them encodes them in a way this server cannot keep")
    })?;
    let mut again = loaded.get_heads();
    heads.sort();
    again.sort();
    if again != heads {
        return Err("the changes do not save and load back as they came (the heads differ); the app that made them encodes them in a way this server cannot keep".into());
    }
    Ok((loaded, state))
}
