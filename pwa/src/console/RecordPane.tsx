import { useEffect, useState } from 'preact/hooks';
import type { User } from '../api';
import { useStoreVersion } from '../hooks';
import { getLang, t } from '../i18n';
import { categoryName, formatTime, label, unitName } from '../labels';
import { readAttachments } from '../photos/attachments';
import type { Attachment } from '../photos/db';
import { PhotoStrip } from '../photos/PhotoStrip';
import { Notes } from '../record/Notes';
import { historySentence } from '../record/history';
import { Steps, Timeline } from '../record/Timeline';
import type { Reference } from '../reference';
import type { DocEntry, Store } from '../store';
import { act, categoryOf, whoOf } from './actions';
import { getHousehold, type HouseholdPage } from './api';
import { ct, type CKey } from './i18n';
import { DEPARTMENTS, personName, viewOf, type RecordView } from './record';
import type { ConsoleSyncer } from './sync';
import { DEADLINE_RUNS, available, check, factsOf, needsNote as noteRequired, takesNote, type Action, type Status } from './workflow.mjs';

interface Props {
  id: string;
  user: User;
  store: Store;
  syncer: ConsoleSyncer;
  reference: Reference;
  people: User[];
  /** Changes each time the record is picked from the list: fetch it again. */
  nonce?: number;
  onBack: () => void;
}

type Loaded = { view: RecordView; entry: DocEntry; attachments: Attachment[] } | null | undefined;

/** One record: every field, notes, timeline, change history, and the actions allowed now. */
export function RecordPane({ id, user, store, syncer, reference, people, nonce, onBack }: Props) {
  const version = useStoreVersion(store);
  const [loaded, setLoaded] = useState<Loaded>(undefined);
  // The action just taken, said in words above the panel: the panel itself is rebuilt
  // when the history grows, so a message inside it would vanish with the change it reports.
  const [done, setDone] = useState<Action | null>(null);
  const [fetching, setFetching] = useState(true);
  const [attempt, setAttempt] = useState(0);

  // Fetch the current version by id (a snapshot through sync), then keep showing the stored copy.
  useEffect(() => {
    let cancelled = false;
    setFetching(true);
    syncer
      .open([id])
      .catch(() => undefined)
      .finally(() => !cancelled && setFetching(false));
    return () => {
      cancelled = true;
    };
  }, [id, syncer, attempt, nonce]);

  useEffect(() => {
    let cancelled = false;
    (async () => {
      const got = await store.load(id);
      const mine = new Set((await store.meta<string[]>('actors')) ?? []);
      if (cancelled) return;
      setLoaded(
        got
          ? { view: viewOf(got.A, got.doc, mine, user.id), entry: got.entry, attachments: readAttachments(got.doc) }
          : null,
      );
    })();
    return () => {
      cancelled = true;
    };
  }, [id, store, version, user.id]);

  const back = (
    <button type="button" class="link-btn back c-back" data-testid="record-back" onClick={onBack}>
      ‹ {ct('record.back')}
    </button>
  );
  if (!loaded) {
    return (
      <section class="c-record" data-testid="record-pane" aria-busy={fetching}>
        {back}
        {loaded === null && !fetching ? (
          <div class="card">
            <p data-testid="record-unavailable">{ct('record.unavailable')}</p>
            <button type="button" class="btn btn-light" onClick={() => setAttempt((n) => n + 1)}>
              {ct('record.retry')}
            </button>
          </div>
        ) : (
          <p class="muted">{ct('record.loading')}</p>
        )}
      </section>
    );
  }

  const { view, entry, attachments } = loaded;
  const { record: r, workflow: w, history } = view;
  const summary = store.summary(id);
  const refusal = summary?.sync === 'refused' ? entry.refusal : undefined;
  const cat = categoryOf(reference.categories, r.category);
  const facts = factsOf(w, cat?.field_resolvable);
  const who = whoOf(user);
  const actions = available(who, facts).filter((a) => a !== 'report');
  const name = (uid: number | undefined) => personName(uid, user, people);
  const overdue = w.due_at !== undefined && w.due_at < Date.now() && DEADLINE_RUNS.includes(w.status as Status);

  async function addNote(text: string) {
    await store.addNote(id, user.id, text);
    void syncer.syncNow();
  }

  async function discard() {
    // Out of this user's area now: the server will not send its version back.
    if (entry.evicted) return store.discard(id);
    await store.requestReset(id);
    await syncer.open([id]).catch(() => undefined);
  }

  return (
    <section
      class="c-record"
      data-testid="record-pane"
      data-id={id}
      data-status={w.status}
      data-conflict={String(w.conflict)}
      data-sync={summary?.sync ?? ''}
    >
      {back}
      <div class="record-top">
        <span class={`chip chip-kind chip-${r.kind}`}>{label('kind', r.kind)}</span>
        <span class="chip c-status" data-testid="record-status">
          {label('status', w.status)}
        </span>
        {r.urgency === 'urgent' && <span class="chip chip-urgent">{label('urgency', 'urgent')}</span>}
        {w.urged && <span class="chip c-flag">{ct('list.urged')}</span>}
        {overdue && <span class="chip c-flag">{ct('record.overdue')}</span>}
        {w.conflict && <span class="chip c-flag c-flag-conflict">{ct('list.conflict')}</span>}
        {summary?.sync === 'pending' && (
          <span class="chip chip-sync chip-pending" data-testid="record-pending">
            {ct('record.pending')}
          </span>
        )}
      </div>
      <h2 class="c-record-title" data-testid="record-title">
        {r.title || '—'}
      </h2>

      {w.conflict && (
        <div class="alert alert-error" role="alert" data-testid="record-conflict">
          <p>{ct('record.conflict')}</p>
          <p>
            {w.statuses.map((s) => (
              <span key={s} class="chip c-status" data-testid="conflict-status">
                {label('status', s)}
              </span>
            ))}
          </p>
        </div>
      )}

      {refusal && (
        <div class="alert alert-error" role="alert" data-testid="record-refusal">
          <p class="alert-title">{ct('record.refused')}</p>
          <p>
            <code data-testid="refusal-code">{refusal.code}</code>
          </p>
          <p data-testid="refusal-message">{refusal.message}</p>
          <button type="button" class="btn btn-light" data-testid="discard" onClick={() => void discard()}>
            {ct(entry.evicted ? 'record.discardEvicted' : 'record.discard')}
          </button>
        </div>
      )}

      {done && (
        <p class="alert alert-ok" role="status" data-testid="action-done" data-action={done}>
          {ct('actions.done', { action: label('action', done) })}
        </p>
      )}
      <ActionPanel
        key={`${id}-${history.length}`}
        actions={actions}
        user={user}
        people={people}
        grid={r.grid}
        handlingHours={cat?.handling_hours ?? 72}
        urgent={w.urgency === 'urgent'}
        onAct={async (action, params) => {
          const ok = await act(store, user, reference.categories, id, action, params);
          if (ok) {
            setDone(action);
            void syncer.syncNow().catch(() => undefined);
          }
          return ok;
        }}
        explain={(a) => {
          const c = check(who, facts, a);
          return c.ok ? '' : c.reason;
        }}
      />

      <section class="card">
        <h3 class="section-title">{ct('record.fields')}</h3>
        <dl class="facts c-facts">
          <Fact k="record.id" v={r.id} mono />
          <Fact k="record.kind" v={label('kind', r.kind)} />
          <Fact k="record.category" v={categoryName(reference.categories, r.category)} />
          <Fact k="record.status" v={w.statuses.map((s) => label('status', s)).join(' / ')} testid="fact-status" />
          <Fact k="record.level" v={ct(`level.${w.level}` as CKey)} testid="fact-level" />
          <Fact k="record.urgency" v={label('urgency', r.urgency)} />
          <Fact k="record.grid" v={unitName(reference.units, r.grid)} testid="fact-grid" />
          <Fact k="record.sector" v={unitName(reference.units, r.sector)} />
          <Fact k="record.address" v={r.address} testid="fact-address" />
          <Fact
            k="record.location"
            v={
              r.location
                ? `${r.location.lat.toFixed(6)}, ${r.location.lng.toFixed(6)}${r.location.accuracy_m !== undefined ? ` (±${Math.round(r.location.accuracy_m)} m)` : ''}`
                : ''
            }
          />
          {r.household && user.role !== 'department_handler' && (
            <HouseholdFact key={r.household} id={r.household} persons={r.persons} />
          )}
          <Fact k="record.reporter" v={name(r.reported_by)} />
          <Fact k="record.reportedAt" v={formatTime(r.reported_at)} />
          <Fact k="record.department" v={w.department ? departmentName(w.department) : ''} testid="fact-department" />
          <Fact k="record.assignee" v={w.assignee !== undefined ? name(w.assignee) : ''} />
          <Fact k="record.dueAt" v={w.due_at !== undefined ? formatTime(w.due_at) : ''} testid="fact-due" />
          <Fact k="record.urged" v={w.urged ? ct('record.yes') : ''} />
          <Fact k="record.duplicateOf" v={w.duplicate_of ?? ''} mono />
        </dl>
        <h3 class="section-title">{ct('record.description')}</h3>
        <p class="prewrap">{r.description || '—'}</p>
      </section>

      {attachments.length > 0 && (
        <section class="card" data-testid="record-photos">
          <h3 class="section-title">{t('photos.title')}</h3>
          <PhotoStrip userId={user.id} attachments={attachments} version={version} />
        </section>
      )}

      <Timeline title={ct('record.timeline')} level={3} entries={r.timeline} name={name} testid="record-timeline" />
      {/* Out of this user's area a note would only be refused. */}
      <Notes title={ct('record.notes')} level={3} notes={r.notes} name={name} add={entry.evicted ? undefined : addNote} />
      <Steps
        title={ct('record.history')}
        level={3}
        steps={history.map((h) => ({ key: h.hash, title: historySentence(h, name), at: h.time }))}
        testid="record-history"
        itemTestid="history-entry"
      />
    </section>
  );
}

export function departmentName(key: string): string {
  const d = DEPARTMENTS.find((x) => x.key === key);
  return d ? (getLang() === 'en' ? d.en : d.zh) : key;
}

/**
 * The household a record is about, by door number and address, and whom a visit saw
 * (masked): fetched, since the console does not keep the register on the device.
 */
function HouseholdFact({ id, persons }: { id: string; persons: string[] }) {
  const [page, setPage] = useState<HouseholdPage | null>(null);
  useEffect(() => {
    let cancelled = false;
    getHousehold(id)
      .then((p) => !cancelled && setPage(p))
      .catch(() => undefined); // out of the caller's area, or offline: the fact stays unshown
    return () => {
      cancelled = true;
    };
  }, [id]);
  if (!page) return null;
  const seen = page.members.filter((m) => persons.includes(m.pid)).map((m) => m.name_masked);
  return (
    <>
      <Fact k="record.household" v={`${page.number} · ${page.address}`} testid="fact-household" />
      <Fact k="record.persons" v={seen.join('、')} />
    </>
  );
}

function Fact({ k, v, testid, mono }: { k: CKey; v: string; testid?: string; mono?: boolean }) {
  if (!v) return null;
  return (
    <div>
      <dt>{ct(k)}</dt>
      <dd data-testid={testid} class={mono ? 'c-mono' : undefined}>
        {v}
      </dd>
    </div>
  );
}

interface PanelProps {
  actions: Action[];
  user: User;
  people: User[];
  grid: string;
  handlingHours: number;
  urgent: boolean;
  onAct: (action: Action, params: { note?: string; assignee?: number; department?: string; duplicate_of?: string }) => Promise<boolean>;
  explain: (a: Action) => string;
}


/** Buttons for the actions allowed now; each opens the fields it needs, then confirms. */
export function ActionPanel({ actions, people, grid, handlingHours, urgent, onAct, explain }: PanelProps) {
  const [open, setOpen] = useState<Action | null>(null);
  const [note, setNote] = useState('');
  const [assignee, setAssignee] = useState('');
  const [department, setDepartment] = useState('');
  const [dup, setDup] = useState('');
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState('');

  const staff = people.filter((p) => p.role === 'grid_staff' && (p.unit === grid || grid.startsWith(`${p.unit}/`) || p.unit.startsWith(`${grid}/`)));
  const needsNote = open !== null && noteRequired(open);
  const ready =
    open !== null &&
    (!needsNote || note.trim() !== '') &&
    (open !== 'assign' || Number(assignee) > 0) &&
    (open !== 'dispatch' || department !== '') &&
    (open !== 'close_duplicate' || /^[0-9a-f-]{36}$/.test(dup.trim()));

  async function confirm() {
    if (!open || !ready || busy) return;
    setBusy(true);
    const ok = await onAct(open, {
      note: note.trim() || undefined,
      assignee: open === 'assign' ? Number(assignee) : undefined,
      department: open === 'dispatch' ? department : undefined,
      duplicate_of: open === 'close_duplicate' ? dup.trim() : undefined,
    });
    setBusy(false);
    setMessage(ok ? ct('actions.saved') : explain(open));
    if (ok) setOpen(null);
  }

  return (
    <section class="card c-actions" data-testid="actions">
      <h3 class="section-title">{ct('actions.title')}</h3>
      {actions.length === 0 && <p class="muted" data-testid="actions-none">{ct('actions.none')}</p>}
      <div class="c-action-buttons">
        {actions.map((a) => (
          <button
            key={a}
            type="button"
            class={open === a ? 'btn btn-primary' : 'btn btn-light'}
            data-testid={`action-${a}`}
            aria-pressed={open === a}
            onClick={() => {
              setOpen(open === a ? null : a);
              setMessage('');
            }}
          >
            {actionVerb(a)}
          </button>
        ))}
      </div>
      {open && (
        <div class="c-action-form" data-testid="action-form" data-action={open}>
          {open === 'accept' && (
            <p class="muted">{ct('actions.deadline', { h: urgent ? handlingHours / 2 : handlingHours })}</p>
          )}
          {open === 'assign' &&
            (staff.length > 0 ? (
              <label class="field">
                <span class="label">{ct('actions.assignee')}</span>
                <select data-testid="param-assignee" value={assignee} onChange={(e) => setAssignee(e.currentTarget.value)}>
                  <option value="">{ct('actions.choose')}</option>
                  {staff.map((p) => (
                    <option key={p.id} value={String(p.id)}>
                      {p.name} · {p.unit_name}
                    </option>
                  ))}
                </select>
              </label>
            ) : (
              <label class="field">
                <span class="label">{ct('actions.assigneeId')}</span>
                <input
                  data-testid="param-assignee"
                  inputMode="numeric"
                  value={assignee}
                  onInput={(e) => setAssignee(e.currentTarget.value.replace(/\D/g, ''))}
                />
              </label>
            ))}
          {open === 'dispatch' && (
            <label class="field">
              <span class="label">{ct('actions.department')}</span>
              <select data-testid="param-department" value={department} onChange={(e) => setDepartment(e.currentTarget.value)}>
                <option value="">{ct('actions.choose')}</option>
                {DEPARTMENTS.map((d) => (
                  <option key={d.key} value={d.key}>
                    {getLang() === 'en' ? d.en : d.zh}
                  </option>
                ))}
              </select>
            </label>
          )}
          {open === 'close_duplicate' && (
            <label class="field">
              <span class="label">{ct('actions.duplicateOf')}</span>
              <input data-testid="param-duplicate" value={dup} onInput={(e) => setDup(e.currentTarget.value)} />
            </label>
          )}
          {takesNote(open) && (
            <label class="field">
              <span class="label">
                {ct('actions.note')}
                {needsNote ? ' *' : ''}
              </span>
              <textarea class="textarea" rows={2} data-testid="param-note" value={note} onInput={(e) => setNote(e.currentTarget.value)} />
            </label>
          )}
          {needsNote && !note.trim() && <p class="muted">{ct('actions.noteRequired')}</p>}
          <div class="row">
            <button type="button" class="btn btn-light" onClick={() => setOpen(null)}>
              {ct('actions.cancel')}
            </button>
            <button type="button" class="btn btn-primary" data-testid="action-confirm" disabled={!ready || busy} onClick={() => void confirm()}>
              {ct('actions.confirm')} · {actionVerb(open)}
            </button>
          </div>
        </div>
      )}
      {message && (
        <p class="muted" role="status" data-testid="action-message">
          {message}
        </p>
      )}
    </section>
  );
}

const VERBS: Record<Action, [string, string]> = {
  report: ['上报', 'Report'],
  resolve_on_spot: ['自行处置', 'Resolve on the spot'],
  withdraw: ['撤回', 'Withdraw'],
  resubmit: ['重新提交', 'Resubmit'],
  accept: ['受理', 'Accept'],
  return: ['退回', 'Return'],
  assign: ['分派网格员', 'Assign'],
  dispatch: ['派遣部门', 'Dispatch'],
  escalate: ['上报升级', 'Escalate'],
  verify: ['核查', 'Verify'],
  close: ['结案', 'Close'],
  close_duplicate: ['作为重复结案', 'Close as duplicate'],
  reopen: ['重新办理', 'Reopen'],
  start: ['开始处置', 'Start'],
  report_back: ['处置反馈', 'Report back'],
  hand_back: ['退回上级', 'Hand back'],
  urge: ['督办', 'Urge'],
};

export function actionVerb(a: Action): string {
  const v = VERBS[a];
  return v ? v[getLang() === 'en' ? 1 : 0] : a;
}
