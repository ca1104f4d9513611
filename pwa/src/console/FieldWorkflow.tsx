import { useEffect, useState } from 'preact/hooks';
import './field.css';
import type { User } from '../api';
import { useStoreVersion } from '../hooks';
import { formatTime, label } from '../labels';
import type { Reference } from '../reference';
import type { Store } from '../store';
import { act, categoryOf, whoOf } from './actions';
import { ct, type CKey } from './i18n';
import { DEADLINE_RUNS, WITH_HANDLER, available, factsOf, needsNote, readWorkflow, type Action, type Status, type Workflow } from './workflow.mjs';

interface Props {
  id: string;
  user: User;
  store: Store;
  /** The field app's syncer; only `syncNow` is used. */
  syncer: { syncNow: () => Promise<void> };
  reference: Reference;
}

/** The field actions, in the order they are offered, and what each button says. */
const FIELD: [Action, CKey][] = [
  ['resubmit', 'field.resubmit'],
  ['start', 'field.start'],
  ['report_back', 'field.reportBack'],
  ['resolve_on_spot', 'field.resolveOnSpot'],
  ['withdraw', 'field.withdraw'],
  ['hand_back', 'field.handBack'],
];

/**
 * The workflow on the phone: the status, a returned record's reason with "resubmit",
 * withdraw while still reported, resolve on the spot when the category allows it, and
 * start / report back for the grid staff member a case is assigned to.
 */
export function FieldWorkflow({ id, user, store, syncer, reference }: Props) {
  const version = useStoreVersion(store);
  const [state, setState] = useState<{ w: Workflow; reason?: string } | null>(null);
  const [open, setOpen] = useState<Action | null>(null);
  // Withdrawing cannot be undone: it takes a second, deliberate tap.
  const [confirmWithdraw, setConfirmWithdraw] = useState(false);
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let cancelled = false;
    void store.load(id).then((got) => {
      if (cancelled || !got) return;
      const w = readWorkflow(got.A, got.doc);
      const timeline = Array.from((got.doc as { timeline?: { action: unknown; note?: unknown }[] }).timeline ?? []);
      const lastReturn = timeline.filter((e) => String(e.action) === 'return').pop();
      setState({ w, reason: lastReturn?.note === undefined ? undefined : String(lastReturn.note) });
    });
    return () => {
      cancelled = true;
    };
  }, [id, store, version]);

  if (!state) return null;
  const { w, reason } = state;
  const cat = categoryOf(reference.categories, w.category);
  const allowed = available(whoOf(user), factsOf(w, cat?.field_resolvable));
  const offered = FIELD.filter(([a]) => allowed.includes(a));

  async function run(action: Action) {
    if (busy) return;
    if (needsNote(action) && !note.trim()) return;
    setBusy(true);
    const ok = await act(store, user, reference.categories, id, action, { note: note.trim() || undefined });
    setBusy(false);
    if (ok) {
      setOpen(null);
      setNote('');
      if (navigator.onLine) void syncer.syncNow();
    }
  }

  return (
    <section class="card wf" data-testid="workflow" data-status={w.status}>
      <h2 class="section-title">{ct('field.workflow')}</h2>
      <p class="wf-status">
        <span class={`chip wf-chip wf-${w.status}`} data-testid="wf-status">
          {label('status', w.status)}
        </span>
        {w.due_at !== undefined && DEADLINE_RUNS.includes(w.status as Status) && (
          <span class="muted"> {ct('field.dueAt', { t: formatTime(w.due_at) })}</span>
        )}
      </p>
      {w.assignee === user.id && WITH_HANDLER.includes(w.status as Status) && (
        <p class="wf-assigned">{ct('field.assignedToMe')}</p>
      )}
      {w.status === 'returned' && (
        <div class="alert alert-error wf-returned" role="alert" data-testid="wf-returned">
          <p class="alert-title">{ct('field.returned')}</p>
          {reason && (
            <p>
              {ct('field.reason')}: <strong data-testid="wf-reason">{reason}</strong>
            </p>
          )}
        </div>
      )}
      {offered.length > 0 && (
        <div class="row wf-actions">
          {offered.map(([a, key]) => (
            <button
              key={a}
              type="button"
              class={a === 'withdraw' || a === 'hand_back' ? 'btn btn-light' : 'btn btn-primary'}
              data-testid={`wf-${a}`}
              disabled={busy}
              onClick={() =>
                a === 'withdraw' ? setConfirmWithdraw(true) : needsNote(a) ? setOpen(open === a ? null : a) : void run(a)
              }
            >
              {ct(key)}
            </button>
          ))}
        </div>
      )}
      {confirmWithdraw && (
        <div class="alert alert-warn" role="alertdialog" data-testid="wf-withdraw-ask">
          <p>{ct('field.withdrawAsk')}</p>
          <div class="row">
            <button
              type="button"
              class="btn btn-danger"
              data-testid="wf-withdraw-confirm"
              disabled={busy}
              onClick={() => {
                setConfirmWithdraw(false);
                void run('withdraw');
              }}
            >
              {ct('field.withdrawYes')}
            </button>
            <button type="button" class="btn btn-light" data-testid="wf-withdraw-cancel" onClick={() => setConfirmWithdraw(false)}>
              {ct('field.withdrawNo')}
            </button>
          </div>
        </div>
      )}
      {open && (
        <div class="wf-form">
          <textarea
            class="textarea"
            rows={3}
            placeholder={ct('field.notePlaceholder')}
            aria-label={ct('field.notePlaceholder')}
            data-testid="wf-note"
            value={note}
            onInput={(e) => setNote(e.currentTarget.value)}
          />
          <button
            type="button"
            class="btn btn-primary btn-block"
            data-testid="wf-confirm"
            disabled={busy || !note.trim()}
            onClick={() => void run(open)}
          >
            {ct(FIELD.find(([a]) => a === open)?.[1] ?? 'field.reportBack')}
          </button>
        </div>
      )}
    </section>
  );
}
