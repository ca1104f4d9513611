// Generated from sync/src/ (rules.rs, protocol.rs, ingest/) by `HAITANG_BLESS=1 cargo test -p haitang-sync generated`.
// Do not edit: change the Rust and run that command.

export type RefusalCode = 'malformed' | 'missing_deps' | 'invalid_document' | 'out_of_scope' | 'forbidden' | 'foreign_actor' | 'too_large' | 'forbidden_transition' | 'damaged' | 'busy';

export declare const REFUSAL_CODES: RefusalCode[];
export declare const RETRYABLE: RefusalCode[];
export declare const LIMITS: {
  version: number;
  max_push_docs: number;
  max_push_changes: number;
  max_changes_per_doc: number;
  max_want: number;
};
