// Generated from sync/src/ (rules.rs, protocol.rs, ingest/) by `HAITANG_BLESS=1 cargo test -p haitang-sync generated`.
// Do not edit: change the Rust and run that command.
// Type-checked only (tsc), never bundled: see wire_check in sync/src/generated.rs.

import type { PullChanges, PullEvict, PullSnapshot, PushDoc, PushResult, SyncRequest, SyncResponse } from '../sync/wire';

export const requestFull: SyncRequest = { "cursor": 7, "limit": 100, "pull": false, "push": [{ "changes": [new Uint8Array([1, 2])], "doc": "0f8fad5b-d9cb-469f-a165-70867728950e", "type": "record" }], "resume": 9, "v": 1, "want": ["7c9e6679-7425-40de-944b-e07fc1f90ae7"] };

export const requestBare: SyncRequest = { "v": 1 };

export const pushFull: PushDoc = { "changes": [new Uint8Array([1, 2])], "doc": "0f8fad5b-d9cb-469f-a165-70867728950e", "type": "record" };

export const pushBare: PushDoc = { "changes": [new Uint8Array([1, 2])], "doc": "0f8fad5b-d9cb-469f-a165-70867728950e" };

export const responseFull: SyncResponse = { "cursor": 12, "more": true, "pull": [{ "changes": [new Uint8Array([4, 5])], "doc": "c" }, { "doc": "d", "snapshot": new Uint8Array([5, 6]) }, { "doc": "e", "evict": true }], "results": [{ "doc": "a", "heads": ["0303030303030303030303030303030303030303030303030303030303030303"], "ok": true }, { "code": "missing_deps", "doc": "b", "message": "depends on a change not sent", "ok": false }], "resume": 11, "unsent": ["f"], "v": 1 };

export const responseBare: SyncResponse = { "cursor": 0, "more": false, "pull": [], "results": [], "v": 1 };

export const accepted: PushResult = { "doc": "a", "heads": ["0303030303030303030303030303030303030303030303030303030303030303"], "ok": true };

export const refused: PushResult = { "code": "missing_deps", "doc": "b", "message": "depends on a change not sent", "ok": false };

export const changes: PullChanges = { "changes": [new Uint8Array([4, 5])], "doc": "c" };

export const snapshot: PullSnapshot = { "doc": "d", "snapshot": new Uint8Array([5, 6]) };

export const evict: PullEvict = { "doc": "e", "evict": true };
