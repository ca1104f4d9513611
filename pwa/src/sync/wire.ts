// The wire types of POST /api/v1/sync, named as in sync/src/protocol.rs, which is the
// definition; docs/PROTOCOL.md is the prose. The refusal codes, document types and request
// limits are generated from the Rust (../generated/protocol.mjs). These shapes are written
// here, and checked against the Rust: ../generated/wire-check.ts holds values the Rust
// serialised, typed with these interfaces, so `tsc` fails when a shape lacks a field Rust
// sends or requires one Rust may leave out.
//
// Bytes are `Uint8Array`s (CBOR byte strings). A field Rust leaves out when it is `None` or
// empty is optional here.

/** Why a pushed document was refused: generated from `RefusalCode` in sync/src/ingest/. */
export type { DocType, RefusalCode } from '../generated/protocol.mjs';
import type { DocType, RefusalCode } from '../generated/protocol.mjs';

/** One sync round trip from a phone: push local changes, pull what changed in scope. */
export interface SyncRequest {
  v: number;
  cursor?: number;
  resume?: number;
  push?: PushDoc[];
  want?: string[];
  /** Absent means true; `false` pushes and fetches `want` only. */
  pull?: boolean;
  limit?: number;
}

/** The changes pushed for one document, each as Automerge made it. */
export interface PushDoc {
  doc: string;
  /** Absent means a record. */
  type?: DocType;
  changes: Uint8Array[];
}

/** The server's answer: one result per pushed document, then the pull page. */
export interface SyncResponse {
  v: number;
  results: PushResult[];
  pull: PullItem[];
  cursor: number;
  more: boolean;
  resume?: number;
  unsent?: string[];
}

/** The outcome of pushing one document: all of its changes stored, or none. */
export interface PushResult {
  doc: string;
  ok: boolean;
  heads?: string[];
  code?: RefusalCode;
  message?: string;
}

/** One document's worth of pull, told apart by which field is present (`#[serde(untagged)]`). */
export type PullItem = PullChanges | PullSnapshot | PullEvict;

export interface PullChanges {
  doc: string;
  /** Absent means a record. */
  type?: DocType;
  changes: Uint8Array[];
}

export interface PullSnapshot {
  doc: string;
  /** Absent means a record. */
  type?: DocType;
  snapshot: Uint8Array;
}

export interface PullEvict {
  doc: string;
  evict: boolean;
}
