import { useState } from 'preact/hooks';
import type { CareTag, ResidentEdit, User } from '../api-types';
import type { Relation } from '../generated/protocol.mjs';
import { t } from '../i18n';
import type { Reference } from '../reference';
import type { Store } from '../store';
import type { SyncHandle } from '../sync/syncer';
import { useUnsaved } from '../unsaved';
import { tagName } from './Visits';
import { PlacePicker, placeOf } from '../components/PlacePicker';

const RELATIONS: Relation[] = ['head', 'spouse', 'child', 'parent', 'grandchild', 'sibling', 'tenant', 'other'];

/** A person as the form holds them: text as typed, checked on save. */
export interface PersonDraft {
  pid: string;
  relation: Relation;
  name: string;
  gender: '' | 'female' | 'male';
  birthYear: string;
  phone: string;
  tags: string[];
}

export function emptyPerson(relation: Relation): PersonDraft {
  return { pid: crypto.randomUUID(), relation, name: '', gender: '', birthYear: '', phone: '', tags: [] };
}

/**
 * The person's fields as an edit for the server, or what is wrong with them. The server
 * checks again (and normalises the phone); this catches what a user can fix on the spot.
 */
export function toEdit(p: PersonDraft, before?: PersonDraft): ResidentEdit | string {
  const name = p.name.trim();
  if (!name) return t('person.nameRequired');
  const year = p.birthYear.trim();
  const thisYear = new Date().getFullYear();
  if (year && !(/^\d{4}$/.test(year) && Number(year) >= 1880 && Number(year) <= thisYear)) {
    return t('person.badYear');
  }
  const phone = p.phone.replace(/[\s-]/g, '');
  if (phone && !/^(\+86)?\d{7,12}$/.test(phone)) return t('person.badPhone');
  const edit: ResidentEdit = {
    pid: p.pid,
    name,
    gender: p.gender || null,
    birth_year: year ? Number(year) : null,
    phone: phone || null,
    tags_add: p.tags.filter((x) => !before?.tags.includes(x)),
    tags_remove: (before?.tags ?? []).filter((x) => !p.tags.includes(x)),
  };
  return edit;
}

interface FieldsProps {
  person: PersonDraft;
  careTags: CareTag[];
  onChange: (p: PersonDraft) => void;
  /** The relation is the household document's, set when the person is added. */
  relationFixed?: boolean;
}

/** A person's fields: what a leader asks at the door. Personal fields, never in a document. */
export function PersonFields({ person: p, careTags, onChange, relationFixed }: FieldsProps) {
  const set = (patch: Partial<PersonDraft>) => onChange({ ...p, ...patch });
  const id = (f: string) => `${f}-${p.pid}`;
  return (
    <fieldset class="field person-fields" data-testid="person-fields">
      {!relationFixed && (
        <div class="field">
          <label for={id('relation')}>{t('person.relation')}</label>
          <select
            id={id('relation')}
            data-testid="person-relation"
            value={p.relation}
            onChange={(e) => set({ relation: e.currentTarget.value as Relation })}
          >
            {RELATIONS.map((r) => (
              <option key={r} value={r}>
                {t(`relation.${r}`)}
              </option>
            ))}
          </select>
        </div>
      )}
      <div class="field">
        <label for={id('name')}>{t('person.name')}</label>
        <input id={id('name')} data-testid="person-name" maxLength={50} value={p.name} onInput={(e) => set({ name: e.currentTarget.value })} />
      </div>
      <div class="field">
        <span class="label">{t('person.gender')}</span>
        <div class="segmented" role="radiogroup">
          {(['female', 'male'] as const).map((g) => (
            <button
              key={g}
              type="button"
              role="radio"
              aria-checked={p.gender === g}
              class={p.gender === g ? 'seg seg-on' : 'seg'}
              data-testid={`person-gender-${g}`}
              onClick={() => set({ gender: p.gender === g ? '' : g })}
            >
              {t(`gender.${g}`)}
            </button>
          ))}
        </div>
      </div>
      <div class="field">
        <label for={id('year')}>{t('person.birthYear')}</label>
        <input
          id={id('year')}
          data-testid="person-year"
          inputMode="numeric"
          maxLength={4}
          value={p.birthYear}
          onInput={(e) => set({ birthYear: e.currentTarget.value })}
        />
      </div>
      <div class="field">
        <label for={id('phone')}>{t('person.phone')}</label>
        <input
          id={id('phone')}
          data-testid="person-phone"
          type="tel"
          maxLength={20}
          value={p.phone}
          onInput={(e) => set({ phone: e.currentTarget.value })}
        />
      </div>
      <div class="field">
        <span class="label">{t('person.tags')}</span>
        {careTags.map((tag) => (
          <label key={tag.code} class="check-row">
            <input
              type="checkbox"
              data-testid={`person-tag-${tag.code}`}
              checked={p.tags.includes(tag.code)}
              onChange={(e) =>
                set({ tags: e.currentTarget.checked ? [...p.tags, tag.code] : p.tags.filter((x) => x !== tag.code) })
              }
            />
            {tagName(careTags, tag.code)}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

interface Props {
  user: User;
  store: Store;
  syncer: SyncHandle;
  reference: Reference;
  onDone: (id: string | null) => void;
}

/** Registers a household found in the patch, offline: its door, its people. */
export function HouseholdForm({ user, store, syncer, reference, onDone }: Props) {
  const { fixedSector, defaultGrid } = placeOf(user, reference);
  const [grid, setGrid] = useState(defaultGrid);
  const [sector, setSector] = useState(fixedSector ?? '');
  const [number, setNumber] = useState('');
  const [address, setAddress] = useState('');
  const [notes, setNotes] = useState('');
  const [people, setPeople] = useState<PersonDraft[]>(() => [emptyPerson('head')]);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  useUnsaved(Boolean(number || address || notes || people.some((p) => p.name)));

  async function save(e: Event) {
    e.preventDefault();
    if (saving) return;
    if (!number.trim() || !address.trim() || !grid) {
      setError(t('householdForm.required'));
      return;
    }
    const edits: ResidentEdit[] = [];
    for (const p of people) {
      const edit = toEdit(p);
      if (typeof edit === 'string') {
        setError(edit);
        return;
      }
      edits.push(edit);
    }
    setSaving(true);
    setError(null);
    const id = crypto.randomUUID();
    try {
      await store.createHousehold(
        {
          id,
          grid,
          sector: sector || undefined,
          number: number.trim(),
          address: address.trim(),
          notes: notes.trim(),
          createdBy: user.id,
          createdAt: Date.now(),
          members: people.map((p) => ({ pid: p.pid, relation: p.relation })),
        },
        edits,
      );
      if (navigator.onLine) void syncer.syncNow();
      onDone(id);
    } catch (err) {
      setError(t('report.saveFailed', { reason: err instanceof Error ? err.message : String(err) }));
      setSaving(false);
    }
  }

  return (
    <main class="screen" data-testid="household-form">
      <button type="button" class="btn btn-light" onClick={() => onDone(null)}>
        {t('household.back')}
      </button>
      <h1 class="screen-title">{t('householdForm.title')}</h1>
      <form class="card form" onSubmit={(e) => void save(e)} noValidate>
        <div class="field">
          <label for="hh-number">{t('householdForm.number')}</label>
          <input id="hh-number" data-testid="hh-number" maxLength={64} value={number} onInput={(e) => setNumber(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="hh-address">{t('householdForm.address')}</label>
          <input id="hh-address" data-testid="hh-address" maxLength={500} value={address} onInput={(e) => setAddress(e.currentTarget.value)} />
        </div>
        <PlacePicker
          user={user}
          reference={reference}
          grid={grid}
          sector={sector}
          onChange={(place) => (setGrid(place.grid), setSector(place.sector))}
        />
        <div class="field">
          <label for="hh-notes">{t('household.notes')}</label>
          <textarea id="hh-notes" rows={2} maxLength={2000} value={notes} onInput={(e) => setNotes(e.currentTarget.value)} />
          <p class="muted">{t('householdForm.notesHint')}</p>
        </div>
        <h2 class="section-title">{t('household.members')}</h2>
        {people.map((p, i) => (
          <PersonFields
            key={p.pid}
            person={p}
            careTags={reference.careTags}
            onChange={(next) => setPeople((ps) => ps.map((x, j) => (j === i ? next : x)))}
          />
        ))}
        <button type="button" class="btn btn-light btn-block" data-testid="hh-add-person" onClick={() => setPeople((ps) => [...ps, emptyPerson('spouse')])}>
          {t('householdForm.addPerson')}
        </button>
        {error && (
          <p class="alert alert-error" role="alert" data-testid="hh-error">
            {error}
          </p>
        )}
        <button type="submit" class="btn btn-primary btn-block" disabled={saving} data-testid="hh-save">
          {saving ? t('report.saving') : t('report.save')}
        </button>
      </form>
    </main>
  );
}
