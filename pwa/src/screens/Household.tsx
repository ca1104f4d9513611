import { useState } from 'preact/hooks';
import { useUnsaved } from '../unsaved';
import type { Resident } from '../api-types';
import type { PersonalField } from '../generated/protocol.mjs';
import { t } from '../i18n';
import { categoryName, formatDate, formatTime, label, unitName } from '../labels';
import type { Reference } from '../reference';
import type { Store } from '../store';
import type { SyncHandle } from '../sync/syncer';
import { setHouseholdText, type DueItem, type Member } from '../household';
import type { QueuedEdit } from '../store';
import type { ResidentStatus } from '../generated/protocol.mjs';
import { emptyPerson, PersonFields, toEdit, type PersonDraft } from './HouseholdForm';
import { DueChip, tagName, useCare } from './Visits';

/** What the report form starts from when opened from a household. */
export interface ReportPrefill {
  kind: 'visit' | 'need';
  household: string;
  /** A need found on this visit (its record id). */
  raisedFrom?: string;
}

interface Props {
  id: string;
  store: Store;
  syncer: SyncHandle;
  reference: Reference;
  onBack: () => void;
  onReport: (prefill: ReportPrefill) => void;
  onOpenRecord: (id: string) => void;
}

const REASONS = ['visit', 'verify', 'urgent', 'other'] as const;

/** One household of the patch: its people (masked until revealed), their schedule, its records. */
export function Household({ id, store, syncer, reference, onBack, onReport, onOpenRecord }: Props) {
  const care = useCare(store);
  if (!care) {
    return (
      <main class="screen" aria-busy="true">
        <p class="boot">{t('app.loading')}</p>
      </main>
    );
  }
  const household = care.households.find((h) => h.id === id);
  if (!household) {
    return (
      <main class="screen" data-testid="household">
        <button type="button" class="btn btn-light" onClick={onBack}>
          {t('household.back')}
        </button>
        <p class="empty">{t('household.missing')}</p>
      </main>
    );
  }
  const summary = store.summary(id);
  const records = store
    .all()
    .filter((s) => s.household === id)
    .sort((a, b) => b.reported_at - a.reported_at);
  // Those living here first, the ones on the visit plan first among them, earliest due first.
  const due = new Map(care.items.map((i) => [i.resident.pid, i.due_at]));
  const rank = (m: Member) => (m.status !== 'living' ? 2 : due.has(m.pid) ? 0 : 1);
  const members = [...household.members].sort(
    (a, b) => rank(a) - rank(b) || (due.get(a.pid) ?? 0) - (due.get(b.pid) ?? 0),
  );

  return (
    <main class="screen screen-detail" data-testid="household" data-id={id}>
      <button type="button" class="btn btn-light" data-testid="household-back" onClick={onBack}>
        {t('household.back')}
      </button>
      <section class="card">
        <h1 class="screen-title" data-testid="household-number">
          {household.number}
        </h1>
        {summary && summary.sync !== 'synced' && (
          <p class={summary.sync === 'refused' ? 'alert alert-error' : 'muted'} data-testid="household-sync" data-sync={summary.sync}>
            {t(summary.sync === 'refused' ? 'household.sync.refused' : 'household.sync.pending')}
          </p>
        )}
        <p>{household.address}</p>
        <p class="muted">{unitName(reference.units, household.sector ?? household.grid)}</p>
        {household.notes && (
          <>
            <h2 class="section-title">{t('household.notes')}</h2>
            <p class="prewrap">{household.notes}</p>
          </>
        )}
        <EditHousehold id={id} address={household.address} notes={household.notes} store={store} syncer={syncer} />
      </section>

      <div class="big-actions">
        <button
          type="button"
          class="btn btn-big btn-primary"
          data-testid="household-visit"
          onClick={() => onReport({ kind: 'visit', household: id })}
        >
          {t('household.visit')}
        </button>
        <button
          type="button"
          class="btn btn-big btn-light"
          data-testid="household-need"
          onClick={() => onReport({ kind: 'need', household: id })}
        >
          {t('household.need')}
        </button>
      </div>

      <section class="card">
        <h2 class="section-title">{t('household.members')}</h2>
        {members.map((m) => (
          <Person
            key={m.pid}
            household={id}
            member={m}
            resident={care.residents.get(m.pid)}
            edit={care.edits.get(m.pid)}
            item={care.items.find((i) => i.resident.pid === m.pid)}
            now={care.now}
            store={store}
            syncer={syncer}
            reference={reference}
          />
        ))}
        <AddPerson household={id} store={store} syncer={syncer} reference={reference} />
      </section>

      <section class="card">
        <h2 class="section-title">{t('household.history')}</h2>
        {records.length === 0 && <p class="muted">{t('household.noHistory')}</p>}
        <ul class="list" data-testid="household-records">
          {records.map((s) => (
            <li key={s.id}>
              <button type="button" class="list-row" data-testid="household-record" onClick={() => onOpenRecord(s.id)}>
                <span class="row-main">
                  <span class="row-title">{s.title || t('records.untitled')}</span>
                  <span class="row-sub">
                    {label('kind', s.kind)} · {categoryName(reference.categories, s.category)} · {formatTime(s.reported_at)}
                  </span>
                </span>
                <span class="chip">{label('status', s.status)}</span>
              </button>
            </li>
          ))}
        </ul>
      </section>
    </main>
  );
}

interface PersonProps {
  household: string;
  member: Member;
  resident: Resident | undefined;
  edit: QueuedEdit | undefined;
  item: Pick<DueItem, 'due_at' | 'state' | 'last_visit_at'> | undefined;
  now: number;
  store: Store;
  syncer: SyncHandle;
  reference: Reference;
}

function Person({ household, member, resident: r, edit, item, now, store, syncer, reference }: PersonProps) {
  const [asking, setAsking] = useState(false);
  const [editing, setEditing] = useState<{ draft: PersonDraft; before: PersonDraft } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [reason, setReason] = useState<(typeof REASONS)[number]>('visit');
  const [other, setOther] = useState('');
  const [revealed, setRevealed] = useState<string | null>(null);

  const refused = edit?.refused && <p class="alert alert-error">{t('person.refused', { reason: edit.refused })}</p>;
  if (!r) {
    return (
      <div class="member" data-testid="member" data-pid={member.pid}>
        <div class="member-head">
          <span class="member-name">{t(edit ? 'person.pending' : 'household.notOnPhone')}</span>
          <span class="muted">
            {t(`relation.${member.relation}`)}
            {edit?.birth_year ? ` · ${edit.birth_year}` : ''}
          </span>
        </div>
        {refused}
      </div>
    );
  }

  async function startEdit() {
    if (!r) return;
    const before: PersonDraft = {
      pid: member.pid,
      relation: member.relation,
      name: r.name ?? '',
      gender: r.gender ?? '',
      birthYear: r.birth_year ? String(r.birth_year) : '',
      phone: r.phone ?? '',
      tags: r.tags,
    };
    // The form shows the name and phone in clear: that is a look, and logged as one.
    const fields: PersonalField[] = [];
    if (r.name) fields.push('name');
    if (r.phone) fields.push('phone');
    if (fields.length) await log(fields, t('person.edit'));
    setEditing({ draft: before, before });
  }

  async function saveEdit() {
    if (!editing) return;
    const next = toEdit(editing.draft, editing.before);
    if (typeof next === 'string') {
      setProblem(next);
      return;
    }
    // Only what changed goes out: an unchanged field must not overwrite a correction made elsewhere.
    const b = editing.before;
    const d = editing.draft;
    const changed: typeof next = { pid: next.pid, tags_add: next.tags_add, tags_remove: next.tags_remove };
    if (d.name.trim() !== b.name) changed.name = next.name;
    if (d.gender !== b.gender) changed.gender = next.gender;
    if (d.birthYear.trim() !== b.birthYear) changed.birth_year = next.birth_year;
    if (d.phone.replace(/[\s-]/g, '') !== b.phone) changed.phone = next.phone;
    await store.queueEdit(changed, household);
    setEditing(null);
    setProblem(null);
    if (navigator.onLine) void syncer.syncNow();
  }

  async function changeStatus(status: ResidentStatus) {
    if (status === member.status) return;
    if (!window.confirm(t('person.statusConfirm', { name: r?.name_masked ?? '', status: t(`resident.${status}`) }))) return;
    await store.setMemberStatus(household, member.pid, status);
    if (navigator.onLine) void syncer.syncNow();
  }
  const gone = member.status !== 'living';
  const canReveal = Boolean(r.name || r.phone);
  const reasonText = reason === 'other' ? other.trim() : t(`household.reason.${reason}`);

  async function log(fields: PersonalField[], why: string, call = false) {
    // Logged on the phone first: the reveal happens offline, the server hears of it at the next sync.
    await store.logAccess({ pid: member.pid, fields, reason: why, at: Date.now(), ...(call ? { call } : {}) });
    if (navigator.onLine) void syncer.syncNow();
  }

  async function reveal() {
    if (!reasonText) return;
    const fields: PersonalField[] = [];
    if (r?.name) fields.push('name');
    if (r?.phone) fields.push('phone');
    await log(fields, reasonText);
    setRevealed(reasonText);
    setAsking(false);
  }

  const age = r.birth_year ? new Date(now).getFullYear() - r.birth_year : null;
  return (
    <div class={gone ? 'member member-gone' : 'member'} data-testid="member" data-pid={member.pid}>
      <div class="member-head">
        <span class="member-name" data-testid="member-name">
          {revealed && r.name ? r.name : r.name_masked}
        </span>
        <span class="muted">
          {t(`relation.${member.relation}`)}
          {r.gender ? ` · ${t(`gender.${r.gender}`)}` : ''}
          {age !== null ? ` · ${t('household.age', { n: age })}` : ''}
        </span>
        {gone && <span class="chip">{t(`resident.${member.status}`)}</span>}
      </div>
      {r.tags.length > 0 && (
        <div class="tags">
          {r.tags.map((tag) => (
            <span key={tag} class="tag">
              {tagName(reference.careTags, tag)}
            </span>
          ))}
        </div>
      )}
      {!gone && item && (
        <p class="member-head">
          <DueChip item={item} now={now} />
          <span class="muted" data-testid="last-visit">
            {item.last_visit_at ? t('due.lastVisit', { date: formatDate(item.last_visit_at) }) : t('due.never')}
          </span>
        </p>
      )}
      {revealed ? (
        <div data-testid="revealed">
          {r.phone ? (
            <a
              class="tel-link"
              href={`tel:${r.phone}`}
              data-testid="call"
              onClick={() => void log(['phone'], revealed, true)}
            >
              {t('household.call', { phone: r.phone })}
            </a>
          ) : (
            <p class="muted">{t('household.noPhone')}</p>
          )}
          <p class="muted">{t('household.revealed')}</p>
          <button type="button" class="btn btn-light" onClick={() => setRevealed(null)}>
            {t('household.hide')}
          </button>
        </div>
      ) : (
        <>
          <p class="muted" data-testid="phone-masked">
            {r.phone_masked ?? t('household.noPhone')}
          </p>
          {canReveal && !asking && !gone && (
            <button type="button" class="btn btn-light" data-testid="reveal" onClick={() => setAsking(true)}>
              {t('household.reveal')}
            </button>
          )}
        </>
      )}
      {edit && !edit.refused && <p class="muted">{t('person.editPending')}</p>}
      {refused}
      {editing ? (
        <div class="reveal-box" data-testid="person-edit">
          <PersonFields
            person={editing.draft}
            careTags={reference.careTags}
            relationFixed
            onChange={(draft) => setEditing({ ...editing, draft })}
          />
          {problem && <p class="alert alert-error">{problem}</p>}
          <SaveCancel testid="person-save" onSave={saveEdit} onCancel={() => setEditing(null)} />
        </div>
      ) : (
        <div class="row">
          {!gone && (r.name || r.phone) && (
            <button type="button" class="btn btn-light" data-testid="person-edit-open" onClick={() => void startEdit()}>
              {t('person.edit')}
            </button>
          )}
          <select
            aria-label={t('person.status')}
            data-testid="person-status"
            value={member.status}
            onChange={(e) => void changeStatus(e.currentTarget.value as ResidentStatus)}
          >
            {(['living', 'moved_out', 'deceased'] as const).map((st) => (
              <option key={st} value={st}>
                {t(`resident.${st}`)}
              </option>
            ))}
          </select>
        </div>
      )}
      {asking && (
        <div class="reveal-box" data-testid="reveal-box">
          <p>{t('household.revealTitle')}</p>
          {REASONS.map((k) => (
            <label key={k}>
              <input
                type="radio"
                name={`reason-${member.pid}`}
                checked={reason === k}
                data-testid={`reason-${k}`}
                onChange={() => setReason(k)}
              />
              {t(`household.reason.${k}`)}
            </label>
          ))}
          {reason === 'other' && (
            <input
              aria-label={t('household.reasonText')}
              maxLength={200}
              value={other}
              onInput={(e) => setOther(e.currentTarget.value)}
            />
          )}
          <div class="row">
            <button
              type="button"
              class="btn btn-primary"
              disabled={!reasonText}
              data-testid="reveal-confirm"
              onClick={() => void reveal()}
            >
              {t('household.revealConfirm')}
            </button>
            <button type="button" class="btn btn-light" onClick={() => setAsking(false)}>
              {t('household.revealCancel')}
            </button>
          </div>
        </div>
      )}
    </div>
  );
}

/** Adds a person to the household on the phone; their fields wait in the queue for the server. */
function AddPerson({ household, store, syncer, reference }: { household: string; store: Store; syncer: SyncHandle; reference: Reference }) {
  const [draft, setDraft] = useState<PersonDraft | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  if (!draft) {
    return (
      <button type="button" class="btn btn-light btn-block" data-testid="add-person" onClick={() => setDraft(emptyPerson('child'))}>
        {t('household.addPerson')}
      </button>
    );
  }
  async function save() {
    if (!draft) return;
    const edit = toEdit(draft);
    if (typeof edit === 'string') {
      setProblem(edit);
      return;
    }
    await store.addPeople(household, [{ edit, relation: draft.relation }]);
    setDraft(null);
    setProblem(null);
    if (navigator.onLine) void syncer.syncNow();
  }
  return (
    <div class="reveal-box" data-testid="add-person-form">
      <PersonFields person={draft} careTags={reference.careTags} onChange={setDraft} />
      {problem && <p class="alert alert-error">{problem}</p>}
      <SaveCancel testid="add-person-save" onSave={save} onCancel={() => setDraft(null)} />
    </div>
  );
}

/** Corrects the household's address or notes, as text edits that merge with another phone's. */
function EditHousehold({ id, address, notes, store, syncer }: { id: string; address: string; notes: string; store: Store; syncer: SyncHandle }) {
  const [draft, setDraft] = useState<{ address: string; notes: string } | null>(null);
  useUnsaved(draft !== null && (draft.address !== address || draft.notes !== notes));
  if (!draft) {
    return (
      <button type="button" class="btn btn-light" data-testid="household-edit" onClick={() => setDraft({ address, notes })}>
        {t('household.edit')}
      </button>
    );
  }
  async function save() {
    if (!draft || !draft.address.trim()) return;
    await store.edit(id, (A, doc) => {
      let next = doc;
      if (draft.address.trim() !== address) next = setHouseholdText(A, next, 'address', draft.address.trim());
      if (draft.notes.trim() !== notes) next = setHouseholdText(A, next, 'notes', draft.notes.trim());
      return next;
    });
    setDraft(null);
    if (navigator.onLine) void syncer.syncNow();
  }
  return (
    <div class="reveal-box" data-testid="household-edit-form">
      <div class="field">
        <label for="he-address">{t('householdForm.address')}</label>
        <input id="he-address" data-testid="he-address" maxLength={500} value={draft.address} onInput={(e) => setDraft({ ...draft, address: e.currentTarget.value })} />
      </div>
      <div class="field">
        <label for="he-notes">{t('household.notes')}</label>
        <textarea id="he-notes" rows={2} maxLength={2000} value={draft.notes} onInput={(e) => setDraft({ ...draft, notes: e.currentTarget.value })} />
        <p class="muted">{t('householdForm.notesHint')}</p>
      </div>
      <SaveCancel testid="he-save" disabled={!draft.address.trim()} onSave={save} onCancel={() => setDraft(null)} />
    </div>
  );
}

function SaveCancel(props: { testid: string; disabled?: boolean; onSave: () => Promise<void>; onCancel: () => void }) {
  return (
    <div class="row">
      <button type="button" class="btn btn-primary" data-testid={props.testid} disabled={props.disabled} onClick={() => void props.onSave()}>
        {t('person.save')}
      </button>
      <button type="button" class="btn btn-light" onClick={props.onCancel}>
        {t('person.cancel')}
      </button>
    </div>
  );
}
