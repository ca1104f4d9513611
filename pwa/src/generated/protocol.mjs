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

/** The household visit's checklist (`care::VISIT_CHECKS`): a visit record's `checks`. */
export const VISIT_CHECKS = [
  {
    "code": "wellbeing",
    "label_en": "Health and spirits",
    "label_zh": "身体与精神状况",
    "options": [
      {
        "code": "good",
        "concern": false,
        "label_en": "Good",
        "label_zh": "良好"
      },
      {
        "code": "fair",
        "concern": false,
        "label_en": "Fair",
        "label_zh": "一般"
      },
      {
        "code": "poor",
        "concern": true,
        "label_en": "Poor, needs attention",
        "label_zh": "较差，需要关注"
      }
    ]
  },
  {
    "code": "home",
    "label_en": "Living conditions",
    "label_zh": "居住环境",
    "options": [
      {
        "code": "tidy",
        "concern": false,
        "label_en": "Tidy",
        "label_zh": "整洁"
      },
      {
        "code": "needs_help",
        "concern": true,
        "label_en": "Needs help keeping up",
        "label_zh": "需要帮助打理"
      }
    ]
  },
  {
    "code": "safety",
    "label_en": "Safety hazards (gas, power, fire)",
    "label_zh": "安全隐患（燃气、用电、消防）",
    "options": [
      {
        "code": "none",
        "concern": false,
        "label_en": "None found",
        "label_zh": "未发现"
      },
      {
        "code": "found",
        "concern": true,
        "label_en": "Hazard found",
        "label_zh": "发现隐患"
      }
    ]
  },
  {
    "code": "needs",
    "label_en": "Any needs",
    "label_zh": "有无诉求",
    "options": [
      {
        "code": "none",
        "concern": false,
        "label_en": "None",
        "label_zh": "没有"
      },
      {
        "code": "some",
        "concern": true,
        "label_en": "Has a need",
        "label_zh": "有诉求"
      }
    ]
  }
];
