import * as A from '@automerge/automerge/slim';
import wasmUrl from '@automerge/automerge/automerge.wasm?url';

// The slim build leaves the 3.6 MB wasm out of the JS bundle: it is a separate,
// precached file, compiled only when a document is first needed. The record list
// works from summaries and never waits for it.
let ready: Promise<typeof A> | null = null;

export function automerge(): Promise<typeof A> {
  ready ??= A.initializeWasm(wasmUrl).then(
    () => A,
    (err: unknown) => {
      ready = null; // a failed fetch (offline before the first precache) may succeed later
      throw err;
    },
  );
  return ready;
}

export type { Doc, Heads } from '@automerge/automerge/slim';
