// The server's side of POST /api/v1/sync as far as the engine's tests need it: documents by
// id, pushes applied and acknowledged with the heads, `want` answered with snapshots, and
// whatever a test scripts for the next responses (pages, evictions, damaged records).
import { Encoder } from 'cbor-x';
import type { Doc } from '@automerge/automerge/slim';
import { automerge } from '../src/automerge';
import type { Transport } from '../src/sync/engine';
import type { PushResult, RefusalCode, SyncRequest, SyncResponse } from '../src/sync/wire';

export const A = await automerge();

// As the server reads it (docs/PROTOCOL.md): plain CBOR maps, byte strings.
export const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, int64AsNumber: true } as ConstructorParameters<
  typeof Encoder
>[0]);

export class FakeServer {
  readonly docs = new Map<string, Doc<unknown>>();
  readonly requests: SyncRequest[] = [];
  /** Pushes for these records are refused with the code, and not stored. */
  readonly refuse = new Map<string, RefusalCode>();
  /** Each request takes the first of these, if any, to change its response. */
  readonly script: ((req: SyncRequest) => Partial<SyncResponse>)[] = [];
  /** Resolved before each answer: a test holds the network with it. */
  gate: Promise<void> = Promise.resolve();

  readonly transport: Transport = async (body) => {
    const req = cbor.decode(body) as SyncRequest;
    this.requests.push(req);
    await this.gate;
    const results: PushResult[] = (req.push ?? []).map((p) => {
      const code = this.refuse.get(p.doc);
      if (code) return { doc: p.doc, ok: false, code, message: `refused: ${code}` };
      const [doc] = A.applyChanges(this.docs.get(p.doc) ?? A.init(), p.changes);
      this.docs.set(p.doc, doc);
      return { doc: p.doc, ok: true, heads: A.getHeads(doc) };
    });
    const pull = (req.want ?? []).flatMap((id) => {
      const doc = this.docs.get(id);
      return doc ? [{ doc: id, snapshot: A.save(doc) }] : [];
    });
    const res: SyncResponse = { v: 1, results, pull, cursor: req.cursor ?? 0, more: false };
    return cbor.encode({ ...res, ...this.script.shift()?.(req) });
  };
}
