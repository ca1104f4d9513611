// Generated from sync/src/ (rules.rs, protocol.rs, ingest/) by `HAITANG_BLESS=1 cargo test -p haitang-sync generated`.
// Do not edit: change the Rust and run that command.
export default {
  "actions": [
    "report",
    "resolve_on_spot",
    "withdraw",
    "resubmit",
    "accept",
    "return",
    "assign",
    "dispatch",
    "escalate",
    "verify",
    "close",
    "close_duplicate",
    "reopen",
    "start",
    "report_back",
    "hand_back",
    "urge"
  ],
  "deadline_runs": [
    "accepted",
    "dispatched",
    "in_progress",
    "returned"
  ],
  "field_roles": [
    "leader",
    "grid_staff"
  ],
  "fields": [
    "status",
    "level",
    "assignee",
    "department",
    "due_at",
    "urged",
    "duplicate_of"
  ],
  "levels": [
    "community",
    "workstation",
    "street",
    "district"
  ],
  "open": [
    "reported",
    "accepted",
    "dispatched",
    "in_progress",
    "returned"
  ],
  "role_levels": {
    "community_supervisor": "community",
    "district_admin": "district",
    "street_supervisor": "street",
    "workstation_supervisor": "workstation"
  },
  "roles": [
    "leader",
    "grid_staff",
    "community_supervisor",
    "workstation_supervisor",
    "street_supervisor",
    "district_admin",
    "department_handler"
  ],
  "rules": {
    "accept": {
      "actor": "supervisor",
      "from": [
        "reported"
      ],
      "note": "optional",
      "server": false,
      "to": "accepted",
      "writes": [
        [
          "due_at",
          "param"
        ]
      ]
    },
    "assign": {
      "actor": "supervisor",
      "from": [
        "accepted"
      ],
      "note": "optional",
      "server": false,
      "to": "dispatched",
      "writes": [
        [
          "assignee",
          "param"
        ]
      ]
    },
    "close": {
      "actor": "supervisor",
      "from": [
        "verified"
      ],
      "note": "optional",
      "server": false,
      "to": "closed",
      "writes": []
    },
    "close_duplicate": {
      "actor": "supervisor",
      "from": [
        "reported",
        "accepted",
        "returned"
      ],
      "note": "optional",
      "server": false,
      "to": "closed",
      "writes": [
        [
          "duplicate_of",
          "param"
        ]
      ]
    },
    "dispatch": {
      "actor": "supervisor",
      "from": [
        "accepted"
      ],
      "note": "optional",
      "server": false,
      "to": "dispatched",
      "writes": [
        [
          "department",
          "param"
        ]
      ]
    },
    "escalate": {
      "actor": "supervisor",
      "from": [
        "reported",
        "accepted",
        "returned"
      ],
      "note": "optional",
      "server": true,
      "to": null,
      "writes": [
        [
          "level",
          "raise"
        ]
      ]
    },
    "hand_back": {
      "actor": "handler",
      "from": [
        "dispatched",
        "in_progress"
      ],
      "note": "required",
      "server": false,
      "to": "accepted",
      "writes": [
        [
          "department",
          "clear"
        ],
        [
          "assignee",
          "clear"
        ]
      ]
    },
    "reopen": {
      "actor": "supervisor",
      "from": [
        "closed"
      ],
      "note": "required",
      "server": false,
      "to": "accepted",
      "writes": []
    },
    "report": {
      "actor": "creation",
      "from": [],
      "note": "none",
      "server": false,
      "to": null,
      "writes": []
    },
    "report_back": {
      "actor": "handler",
      "from": [
        "dispatched",
        "in_progress"
      ],
      "note": "required",
      "server": false,
      "to": "resolved",
      "writes": []
    },
    "resolve_on_spot": {
      "actor": "field_staff",
      "from": [
        "reported"
      ],
      "note": "none",
      "server": false,
      "to": "resolved",
      "writes": []
    },
    "resubmit": {
      "actor": "reporter",
      "from": [
        "returned"
      ],
      "note": "none",
      "server": false,
      "to": "reported",
      "writes": []
    },
    "return": {
      "actor": "supervisor",
      "from": [
        "reported",
        "accepted",
        "resolved"
      ],
      "note": "required",
      "server": false,
      "to": "returned",
      "writes": []
    },
    "start": {
      "actor": "handler",
      "from": [
        "dispatched"
      ],
      "note": "optional",
      "server": false,
      "to": "in_progress",
      "writes": []
    },
    "urge": {
      "actor": "supervisor_or_above",
      "from": [
        "reported",
        "accepted",
        "dispatched",
        "in_progress",
        "returned"
      ],
      "note": "none",
      "server": true,
      "to": null,
      "writes": [
        [
          "urged",
          "mark"
        ]
      ]
    },
    "verify": {
      "actor": "supervisor",
      "from": [
        "resolved"
      ],
      "note": "optional",
      "server": false,
      "to": "verified",
      "writes": []
    },
    "withdraw": {
      "actor": "reporter",
      "from": [
        "reported"
      ],
      "note": "none",
      "server": false,
      "to": "withdrawn",
      "writes": []
    }
  },
  "statuses": [
    "reported",
    "accepted",
    "dispatched",
    "in_progress",
    "resolved",
    "verified",
    "closed",
    "returned",
    "withdrawn"
  ],
  "with_handler": [
    "dispatched",
    "in_progress"
  ]
};
