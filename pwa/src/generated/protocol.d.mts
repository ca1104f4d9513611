// Generated from sync/src/ (rules.rs, protocol.rs, ingest/) by `HAITANG_BLESS=1 cargo test -p haitang-sync generated`.
// Do not edit: change the Rust and run that command.

export type RefusalCode = 'malformed' | 'missing_deps' | 'invalid_document' | 'out_of_scope' | 'forbidden' | 'foreign_actor' | 'too_large' | 'forbidden_transition' | 'damaged' | 'busy';

export type DocType = 'record' | 'household';

export type ErrorCode = 'bad_credentials' | 'bad_rows' | 'busy' | 'cannot_disable_self' | 'duplicate_id_number' | 'erased' | 'invalid_resident' | 'reason_required' | 'duplicate_document' | 'forbidden' | 'hash_mismatch' | 'internal' | 'invalid_body' | 'invalid_hash' | 'invalid_path' | 'invalid_query' | 'invalid_range' | 'invalid_refresh_token' | 'invalid_resume' | 'invalid_user' | 'malformed' | 'malformed_json' | 'method_not_allowed' | 'not_found' | 'not_ready' | 'rate_limited' | 'refresh_token_reused' | 'request_timeout' | 'too_large' | 'unauthorized' | 'unavailable' | 'unsupported_media_type' | 'unsupported_version' | 'upload_in_progress' | 'username_taken' | 'weak_password' | 'wrong_offset';

export declare const REFUSAL_CODES: RefusalCode[];
export declare const RETRYABLE: RefusalCode[];
export declare const LIMITS: {
  version: number;
  max_push_docs: number;
  max_push_changes: number;
  max_changes_per_doc: number;
  max_want: number;
};
export declare const DOC_TYPES: DocType[];
export declare const ERROR_CODES: ErrorCode[];

export type DueState = 'overdue' | 'due' | 'soon' | 'later';

/** A resident's relation to the head of household, status and personal fields (`sync::personal`). */
export type Relation = 'head' | 'spouse' | 'child' | 'parent' | 'grandchild' | 'sibling' | 'tenant' | 'other';

export type ResidentStatus = 'living' | 'moved_out' | 'deceased';

export type PersonalField = 'name' | 'phone' | 'id_number';

export declare const CARE: {
  day_ms: number;
  soon_days: number;
  due_states: DueState[];
};

export interface VisitAnswer {
  code: string;
  label_zh: string;
  label_en: string;
  concern: boolean;
}

export interface VisitCheck {
  code: string;
  label_zh: string;
  label_en: string;
  options: VisitAnswer[];
}

export declare const VISIT_CHECKS: VisitCheck[];
