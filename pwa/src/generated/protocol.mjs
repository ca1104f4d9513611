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

/** The synced document types (`DocType`); `type` on the wire, absent for the first. */
export const DOC_TYPES = [
  "record",
  "household"
];

/** Every `code` of an error body (`ErrorCode`). */
export const ERROR_CODES = [
  "bad_credentials",
  "bad_rows",
  "busy",
  "cannot_disable_self",
  "duplicate_id_number",
  "erased",
  "invalid_resident",
  "reason_required",
  "duplicate_document",
  "forbidden",
  "hash_mismatch",
  "internal",
  "invalid_body",
  "invalid_hash",
  "invalid_path",
  "invalid_query",
  "invalid_range",
  "invalid_refresh_token",
  "invalid_resume",
  "invalid_user",
  "malformed",
  "malformed_json",
  "method_not_allowed",
  "not_found",
  "not_ready",
  "rate_limited",
  "refresh_token_reused",
  "request_timeout",
  "too_large",
  "unauthorized",
  "unavailable",
  "unsupported_media_type",
  "unsupported_version",
  "upload_in_progress",
  "username_taken",
  "weak_password",
  "wrong_offset"
];

/** The care plan's time scale (`sync::care`): a visit is due within a day, or soon within `soon_days`. */
export const CARE = {
  "day_ms": 86400000,
  "due_states": [
    "overdue",
    "due",
    "soon",
    "later"
  ],
  "soon_days": 7
};
