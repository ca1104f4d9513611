// The closed loop's rules for the app: an interpreter of the rule table generated from
// sync/src/rules.rs (../generated/workflow-rules.mjs), never a copy of it. The server is
// the judge: it checks every pushed change against the Rust table. This module decides
// which buttons the app offers and writes the changes the way the server expects them;
// tests/e2e/console-workflow.test.mjs holds it to a decision matrix generated from the
// Rust `check` (tests/e2e/fixtures/workflow-matrix.json).
//
// Plain JavaScript with the Automerge module passed in (like ../record/core.mjs), so
// Node's test runner loads it as it is.

import RULES from '../generated/workflow-rules.mjs';

export { RULES };
export const ACTIONS = RULES.actions;
export const STATUSES = RULES.statuses;
export const LEVELS = RULES.levels;
export const OPEN = RULES.open;
export const DEADLINE_RUNS = RULES.deadline_runs;
export const WITH_HANDLER = RULES.with_handler;

/** The level a supervisor role answers for, or undefined. */
export function roleLevel(role) {
  return RULES.role_levels[role];
}

export function levelUp(level) {
  const i = LEVELS.indexOf(level);
  return i >= 0 && i < LEVELS.length - 1 ? LEVELS[i + 1] : undefined;
}

const rank = (level) => LEVELS.indexOf(level);

/** Whether the action's timeline entry must carry a note, or may. */
export const needsNote = (action) => RULES.rules[action]?.note === 'required';
export const takesNote = (action) => (RULES.rules[action]?.note ?? 'none') !== 'none';

function isHandler(who, facts) {
  if (who.role === 'department_handler') return Boolean(who.department) && who.department === facts.department;
  if (who.role === 'grid_staff') return facts.assignee === who.user_id;
  return false;
}

/**
 * May `who` ({user_id, role, department}, or 'server') take `action` on a record with
 * these facts? `{ok: true}` or `{ok: false, reason}`, as `rules::check` in Rust (which rule
 * applies is `RULES.rules[action]`).
 */
export function check(who, facts, action) {
  const rule = RULES.rules[action];
  if (!rule) return { ok: false, reason: `unknown action ${action}` };
  if (rule.actor === 'creation') {
    return { ok: false, reason: `a record's ${action} step is made once, when the record is made` };
  }
  const server = who === 'server';
  const supervisor = server ? rule.server : roleLevel(who.role) === facts.level;
  const conflicting = facts.statuses.length > 1;
  const statusOk =
    supervisor && conflicting ? facts.statuses.some((s) => rule.from.includes(s)) : rule.from.includes(facts.status);
  let whoOk;
  if (server) whoOk = rule.server;
  else {
    switch (rule.actor) {
      case 'supervisor':
        whoOk = supervisor;
        break;
      case 'supervisor_or_above': {
        const l = roleLevel(who.role);
        whoOk = l !== undefined && rank(l) >= rank(facts.level);
        break;
      }
      case 'reporter':
        whoOk = who.user_id === facts.reported_by;
        break;
      case 'handler':
        whoOk = isHandler(who, facts);
        break;
      case 'field_staff':
        if (!facts.field_resolvable) {
          return { ok: false, reason: 'this category may not be resolved on the spot; report it for handling' };
        }
        whoOk = RULES.field_roles.includes(who.role);
        break;
      default:
        whoOk = false;
    }
  }
  if (!whoOk) {
    const whoText = server ? 'the server' : who.role;
    let reason;
    if (rule.actor === 'reporter') reason = `only the reporter may ${action} a record`;
    else if (rule.actor === 'handler')
      reason = `only the department or grid staff member the record was dispatched to may ${action} it`;
    else reason = `a ${whoText} may not ${action} a record held at the ${facts.level} level`;
    return { ok: false, reason };
  }
  if (!statusOk) {
    return {
      ok: false,
      reason: `cannot ${action} a record that is ${facts.status}; allowed when it is ${rule.from.join(' or ')}`,
    };
  }
  if (rule.writes.some(([f, w]) => f === 'level' && w === 'raise') && levelUp(facts.level) === undefined) {
    return { ok: false, reason: 'the district level is the top; there is nowhere to escalate' };
  }
  return { ok: true };
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
    const rule = RULES.rules[action];
    for (const [field, write] of rule?.writes ?? []) {
      if (write === 'clear') {
        if (d[field] !== undefined) delete d[field];
      } else if (write === 'raise') {
        const up = levelUp(facts.level);
        if (up) d[field] = s(up);
      } else if (write === 'mark') d[field] = true;
      else if (params[field] !== undefined && params[field] !== '') {
        // Ids are numbers, keys and record ids enum-like strings.
        d[field] = typeof params[field] === 'number' ? params[field] : s(params[field]);
      }
    }
    const next = rule?.to ?? (facts.statuses.length > 1 ? facts.status : undefined);
    // Writing the status again, even unchanged, overwrites every concurrent value:
    // the supervisor's decision ends the conflict.
    if (next) d.status = s(next);
    const entry = { action: s(action), by, at };
    if (params.note) entry.note = s(params.note);
    d.timeline.push(entry);
  });
}
