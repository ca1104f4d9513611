// How a record document (schema 1, docs/PROTOCOL.md) is written and read.
// Plain JavaScript with the Automerge module passed in, so that the app and the
// Node tests (tests/e2e/interop) build records with the very same code while each
// uses its own Automerge instance (documents cannot cross wasm instances).

/** Commit messages, for whoever reads a document's raw history; the apps describe a change by what it touched (`history.ts`). */
export const MESSAGES = {
  report: '上报',
  note: '添加备注',
  edit: '修改',
};

const TEXT_FIELDS = ['title', 'description', 'address'];

/**
 * Writes a new record into an empty document in one change, as the server's
 * `new_record` does: enum-like fields as ImmutableString, title/description/address
 * as Text, the three lists created empty (timeline with its `report` entry).
 */
export function newRecord(A, actor, f) {
  const at = f.reportedAt;
  const doc = A.init({ actor });
  return A.change(doc, { message: MESSAGES.report, time: Math.floor(at / 1000) }, (d) => {
    const s = (v) => new A.ImmutableString(v);
    d.schema = 1;
    d.id = s(f.id);
    d.kind = s(f.kind);
    d.grid = s(f.grid);
    if (f.sector) d.sector = s(f.sector);
    d.category = s(f.category);
    d.title = f.title;
    d.description = f.description;
    d.address = f.address;
    // Plain numbers: Automerge stores whole ones as int and fractions as f64,
    // both of which the schema accepts for coordinates.
    if (f.location) {
      const loc = { lat: f.location.lat, lng: f.location.lng };
      if (f.location.accuracy_m !== undefined) loc.accuracy_m = f.location.accuracy_m;
      d.location = loc;
    }
    if (f.household) d.household = s(f.household);
    if (f.raisedFrom) d.raised_from = s(f.raisedFrom);
    // A visit's checklist: question code → answer code (care::VISIT_CHECKS).
    if (f.checks && Object.keys(f.checks).length) {
      const checks = {};
      for (const [code, answer] of Object.entries(f.checks)) checks[code] = s(answer);
      d.checks = checks;
    }
    // A visit names the people it saw by pid only: names never go into a document.
    if (f.persons?.length) d.persons = f.persons.map(s);
    d.reported_by = f.reportedBy;
    d.reported_at = at;
    d.urgency = s(f.urgency);
    d.status = s('reported');
    d.timeline = [{ action: s('report'), by: f.reportedBy, at }];
    d.notes = [];
    d.attachments = [];
  });
}

/** Appends a note; appending (never replacing the list) lets offline notes from two phones both survive. */
export function addNote(A, doc, note) {
  return A.change(doc, { message: MESSAGES.note, time: Math.floor(note.at / 1000) }, (d) => {
    d.notes.push({ by: note.by, at: note.at, text: note.text });
  });
}

/** Edits a Text field as a diff, so concurrent typing on another phone merges instead of being replaced. */
export function editText(A, doc, field, value, at) {
  if (!TEXT_FIELDS.includes(field)) throw new Error(`${field} is not a text field`);
  return correct(A, doc, { [field]: value }, at);
}

/**
 * Corrects what the reporter set, in one change: the text fields as diffs (see `editText`),
 * the category, and the location (null removes it). Fields left out stay as they are.
 */
export function correct(A, doc, patch, at) {
  const texts = TEXT_FIELDS.filter((f) => patch[f] !== undefined && String(doc[f] ?? '') !== patch[f]);
  const category = patch.category !== undefined && str(doc.category) !== patch.category;
  const location = patch.location !== undefined && JSON.stringify(doc.location ?? null) !== JSON.stringify(patch.location);
  if (!texts.length && !category && !location) return doc;
  return A.change(doc, { message: MESSAGES.edit, time: Math.floor(at / 1000) }, (d) => {
    for (const f of texts) A.updateText(d, [f], patch[f]);
    if (category) d.category = new A.ImmutableString(patch.category);
    if (location) {
      if (patch.location === null) delete d.location;
      else {
        const loc = { lat: patch.location.lat, lng: patch.location.lng };
        if (patch.location.accuracy_m !== undefined) loc.accuracy_m = patch.location.accuracy_m;
        d.location = loc;
      }
    }
  });
}

/** A string field as a JS string, whether stored as Text, ImmutableString or a plain scalar. */
export function str(value) {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : String(value.val ?? value);
}

function num(value) {
  return typeof value === 'number' ? value : Number(value);
}

/** The record as plain data, tolerant of what other writers (the Rust server) stored. */
export function readRecord(doc) {
  const loc = doc.location;
  return {
    id: str(doc.id) ?? '',
    kind: str(doc.kind) ?? '',
    grid: str(doc.grid) ?? '',
    sector: str(doc.sector),
    category: str(doc.category) ?? '',
    title: str(doc.title) ?? '',
    description: str(doc.description) ?? '',
    address: str(doc.address) ?? '',
    household: str(doc.household),
    persons: Array.from(doc.persons ?? [], (p) => str(p) ?? ''),
    raised_from: str(doc.raised_from),
    checks: Object.fromEntries(Object.entries(doc.checks ?? {}).map(([k, v]) => [k, str(v) ?? ''])),
    location:
      loc && typeof loc === 'object'
        ? { lat: num(loc.lat), lng: num(loc.lng), accuracy_m: loc.accuracy_m == null ? undefined : num(loc.accuracy_m) }
        : undefined,
    reported_by: num(doc.reported_by),
    reported_at: num(doc.reported_at),
    urgency: str(doc.urgency) ?? 'normal',
    status: str(doc.status) ?? 'reported',
    department: str(doc.department),
    assignee: doc.assignee == null ? undefined : num(doc.assignee),
    urged: doc.urged === true,
    timeline: Array.from(doc.timeline ?? [], (e) => ({
      action: str(e.action) ?? '',
      by: num(e.by),
      at: num(e.at),
      note: str(e.note),
    })),
    notes: Array.from(doc.notes ?? [], (n) => ({ by: num(n.by), at: num(n.at), text: str(n.text) ?? '' })),
  };
}
