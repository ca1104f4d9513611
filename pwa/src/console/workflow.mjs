// The closed loop's rule table, ported from sync/src/workflow.rs (`check`, `perform`,
// `due_at`). The server is the judge: it checks every pushed change against the Rust
// table. This copy decides which buttons the app offers and writes the changes the
// way the server expects them, so the two must stay in step: tests/e2e/console-workflow
// runs the same role × status × action matrix as sync/src/workflow/tests.rs.
//
// Plain JavaScript with the Automerge module passed in (like ../record/core.mjs), so
// Node's test runner loads it as it is.

export const ACTIONS = [
  'report',
  'resolve_on_spot',
  'withdraw',
  'resubmit',
  'accept',
  'return',
  'assign',
  'dispatch',
  'escalate',
  'verify',
  'close',
  'close_duplicate',
  'reopen',
  'start',
  'report_back',
  'hand_back',
  'urge',
];

export const STATUSES = ['reported', 'accepted', 'dispatched', 'in_progress', 'resolved', 'closed', 'returned', 'withdrawn'];
export const LEVELS = ['community', 'workstation', 'street', 'district'];
const OPEN = ['reported', 'accepted', 'dispatched', 'in_progress', 'returned'];
const FIELD_ROLES = ['leader', 'grid_staff'];

/** The level a supervisor role answers for, or undefined. */
export function roleLevel(role) {
  return {
    community_supervisor: 'community',
    workstation_supervisor: 'workstation',
    street_supervisor: 'street',
    district_admin: 'district',
  }[role];
}

export function levelUp(level) {
  const i = LEVELS.indexOf(level);
  return i >= 0 && i < LEVELS.length - 1 ? LEVELS[i + 1] : undefined;
}

const rank = (level) => LEVELS.indexOf(level);

/** [statuses it may be taken from, status after (undefined: unchanged), fields it sets, needs a note]. */
const TABLE = {
  resolve_on_spot: [['reported'], 'resolved', ['status'], false],
  withdraw: [['reported'], 'withdrawn', ['status'], false],
  resubmit: [['returned'], 'reported', ['status'], false],
  accept: [['reported'], 'accepted', ['status', 'due_at'], false],
  return: [['reported', 'accepted', 'resolved'], 'returned', ['status'], true],
  assign: [['accepted'], 'dispatched', ['status', 'assignee'], false],
  dispatch: [['accepted'], 'dispatched', ['status', 'department'], false],
  escalate: [['reported', 'accepted', 'returned'], undefined, ['level', 'urged'], false],
  verify: [['resolved'], undefined, [], false],
  close: [['resolved'], 'closed', ['status'], false],
  close_duplicate: [['reported', 'accepted', 'returned'], 'closed', ['status', 'duplicate_of'], false],
  reopen: [['closed'], 'accepted', ['status'], true],
  start: [['dispatched'], 'in_progress', ['status'], false],
  report_back: [['dispatched', 'in_progress'], 'resolved', ['status'], true],
  hand_back: [['dispatched', 'in_progress'], 'accepted', ['status', 'department', 'assignee'], true],
  urge: [OPEN, undefined, ['urged'], false],
};

function isHandler(who, facts) {
  if (who.role === 'department_handler') return Boolean(who.department) && who.department === facts.department;
  if (who.role === 'grid_staff') return facts.assignee === who.user_id;
  return false;
}

/**
 * May `who` ({user_id, role, department}, or 'server') take `action` on a record with
 * these facts? `{ok: true, effect}` or `{ok: false, reason}`, like `check` in Rust.
 */
export function check(who, facts, action) {
  if (action === 'report') return { ok: false, reason: 'a record is reported once, when it is made' };
  const row = TABLE[action];
  if (!row) return { ok: false, reason: `unknown action ${action}` };
  const [from, status, fields, needsNote] = row;
  const effect = { status, fields, needsNote };
  const server = who === 'server';
  const supervisor = server ? action === 'escalate' || action === 'urge' : roleLevel(who.role) === facts.level;
  const conflicting = facts.statuses.length > 1;
  const statusOk =
    supervisor && conflicting ? facts.statuses.some((s) => from.includes(s)) : from.includes(facts.status);
  let whoOk;
  if (server) whoOk = action === 'escalate' || action === 'urge';
  else if (action === 'resolve_on_spot') {
    if (!facts.field_resolvable) {
      return { ok: false, reason: 'this category may not be resolved on the spot; report it for handling' };
    }
    whoOk = FIELD_ROLES.includes(who.role);
  } else if (action === 'withdraw' || action === 'resubmit') whoOk = who.user_id === facts.reported_by;
  else if (action === 'start' || action === 'report_back' || action === 'hand_back') whoOk = isHandler(who, facts);
  else if (action === 'urge') {
    const l = roleLevel(who.role);
    whoOk = l !== undefined && rank(l) >= rank(facts.level);
  } else whoOk = supervisor;
  if (!whoOk) {
    const whoText = server ? 'the server' : who.role;
    let reason;
    if (action === 'withdraw' || action === 'resubmit') reason = `only the reporter may ${action} a record`;
    else if (action === 'start' || action === 'report_back' || action === 'hand_back')
      reason = `only the department or grid staff member the record was dispatched to may ${action} it`;
    else reason = `a ${whoText} may not ${action} a record held at the ${facts.level} level`;
    return { ok: false, reason };
  }
  if (!statusOk) {
    return {
      ok: false,
      reason: `cannot ${action} a record that is ${facts.status}; allowed when it is ${from.join(' or ')}`,
    };
  }
  if (action === 'escalate' && levelUp(facts.level) === undefined) {
    return { ok: false, reason: 'the district level is the top; there is nowhere to escalate' };
  }
  return { ok: true, effect };
}

/** Every action `who` may take now, in the table's order. */
export function available(who, facts) {
  return ACTIONS.filter((a) => check(who, facts, a).ok);
}

/** The handling deadline: the category's time from acceptance, halved when urgent. */
export function dueAt(acceptedAt, handlingHours, urgent) {
  const ms = handlingHours * 3_600_000;
  return acceptedAt + (urgent ? Math.floor(ms / 2) : ms);
}

function str(value) {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : String(value.val ?? value);
}

function num(value) {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'number' ? value : Number(value);
}

/** Every status concurrent changes left (one unless the record is conflicting). */
export function statusesOf(A, doc) {
  const current = str(doc.status) ?? 'reported';
  const out = [current];
  const conflicts = A.getConflicts(doc, 'status');
  if (conflicts) {
    for (const v of Object.values(conflicts)) {
      const s = str(v);
      if (s && STATUSES.includes(s) && !out.includes(s)) out.push(s);
    }
  }
  return out;
}

/** The workflow fields of a record document, for showing and for `check`. */
export function readWorkflow(A, doc) {
  const statuses = statusesOf(A, doc);
  return {
    status: statuses[0],
    statuses,
    // As the server judges it (`record::status_conflict`): concurrent writes of the same
    // status (two supervisors who both accepted) are no conflict; different ones are.
    conflict: statuses.length > 1,
    level: str(doc.level) ?? 'community',
    reported_by: num(doc.reported_by),
    assignee: num(doc.assignee),
    department: str(doc.department),
    due_at: num(doc.due_at),
    urged: doc.urged === true,
    duplicate_of: str(doc.duplicate_of),
    urgency: str(doc.urgency) ?? 'normal',
    category: str(doc.category) ?? '',
  };
}

/** Facts for `check`, from `readWorkflow` and the category's `field_resolvable`. */
export function factsOf(w, fieldResolvable) {
  return {
    status: w.status,
    statuses: w.statuses,
    level: w.level,
    reported_by: w.reported_by,
    assignee: w.assignee,
    department: w.department,
    field_resolvable: Boolean(fieldResolvable),
  };
}

/** Commit messages for the history, one per action. */
export const ACTION_MESSAGE_PREFIX = 'workflow:';

/**
 * Writes an action as one Automerge change, as `perform` in Rust does: the workflow
 * fields it sets and its timeline entry `{action, by, at, note?}`. Enum-like strings go
 * in as ImmutableString, numbers as plain numbers. The caller checks it first with
 * `check`; the server checks it again on push.
 *
 * params: {note?, assignee?, department?, duplicate_of?, due_at?}
 */
export function perform(A, doc, facts, action, by, at, params = {}) {
  const s = (v) => new A.ImmutableString(v);
  return A.change(doc, { message: ACTION_MESSAGE_PREFIX + action, time: Math.floor(at / 1000) }, (d) => {
    switch (action) {
      case 'escalate': {
        const up = levelUp(facts.level);
        if (up) d.level = s(up);
        break;
      }
      case 'urge':
        d.urged = true;
        break;
      case 'accept':
        if (params.due_at !== undefined) d.due_at = params.due_at;
        break;
      case 'assign':
        if (params.assignee !== undefined) d.assignee = params.assignee;
        break;
      case 'dispatch':
        if (params.department) d.department = s(params.department);
        break;
      case 'hand_back':
        if (d.department !== undefined) delete d.department;
        if (d.assignee !== undefined) delete d.assignee;
        break;
      case 'close_duplicate':
        if (params.duplicate_of) d.duplicate_of = s(params.duplicate_of);
        break;
      default:
        break;
    }
    const row = TABLE[action];
    const next = (row && row[1]) ?? (facts.statuses.length > 1 ? facts.status : undefined);
    // Writing the status again, even unchanged, overwrites every concurrent value:
    // the supervisor's decision ends the conflict.
    if (next) d.status = s(next);
    const entry = { action: s(action), by, at };
    if (params.note) entry.note = s(params.note);
    d.timeline.push(entry);
  });
}
