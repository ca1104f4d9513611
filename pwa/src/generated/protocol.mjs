// Generated from sync/src/ (rules.rs, protocol.rs, ingest/) by `HAITANG_BLESS=1 cargo test -p haitang-sync generated`.
// Do not edit: change the Rust and run that command.

/** Why a pushed document was refused (`RefusalCode`), every spelling. */
export const REFUSAL_CODES = [
  "malformed",
  "missing_deps",
  "invalid_document",
  "out_of_scope",
  "forbidden",
  "foreign_actor",
  "too_large",
  "forbidden_transition",
  "damaged",
  "busy"
];

/** Refusals the same push may overcome when sent again unchanged. */
export const RETRYABLE = [
  "missing_deps",
  "busy"
];

/** The protocol's version and what one request may carry. */
export const LIMITS = {
  "max_changes_per_doc": 10000,
  "max_push_changes": 50000,
  "max_push_docs": 500,
  "max_want": 200,
  "version": 1
};
