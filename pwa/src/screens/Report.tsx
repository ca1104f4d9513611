import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { RecordKind, User } from '../api';
import { getLang, t } from '../i18n';
import type { Reference } from '../reference';
import { DRAFT_WRITE_DELAY_MS, type ReportForm, type SavedDraft } from '../drafts';
import type { Store } from '../store';
import type { SyncHandle } from '../sync/syncer';
import { useUnsaved } from '../unsaved';
import { Duplicates } from '../console/Duplicates';
import { addAttachments } from '../photos/attachments';
import { getPhotos, toAttachment, type Photo } from '../photos/db';
import { DraftPhotos, PhotoPicker } from '../photos/PhotoPicker';
import type { ReportPrefill } from './Household';
import { useCare } from './Visits';
import { VISIT_CHECKS } from '../generated/protocol.mjs';
import { PlacePicker, placeOf } from '../components/PlacePicker';
import { currentLocation, locateErrorKey } from '../geo';
import { CategoryPicker, CategoryTiles, groupOf } from '../components/CategoryPicker';
import { categoryName } from '../labels';

interface Props {
  user: User;
  store: Store;
  syncer: SyncHandle;
  reference: Reference;
  /** Opened from a household: a visit to it or a need of it. */
  prefill?: ReportPrefill;
  /** A draft the user resumes from home. */
  resume?: SavedDraft;
  onOpen: (id: string) => void;
  /** A visit just saved found a need: the form again, for the need, linked to the visit. */
  onRaiseNeed: (prefill: ReportPrefill) => void;
}

const KINDS: RecordKind[] = ['need', 'visit', 'event'];

type Draft = ReportForm;

export function Report({ user, store, syncer, reference, prefill: opened, resume, onOpen, onRaiseNeed }: Props) {
  const prefill = resume ? resume.prefill : opened;
  // A leader files everything under their own sector; nobody else is tied to one.
  const { fixedSector, defaultGrid } = placeOf(user, reference);
  const empty = (): Draft => ({
    // A building, lane or courtyard leader mostly passes on residents' needs; grid staff
    // mostly report what they find on patrol.
    kind: user.role === 'leader' ? 'need' : 'event',
    group: '',
    category: '',
    title: '',
    description: '',
    address: '',
    household: '',
    persons: [],
    checks: {},
    urgent: false,
    location: null,
    grid: defaultGrid,
    sector: fixedSector ?? '',
  });
  const care = useCare(store);
  const [draft, setDraft] = useState<Draft>(() => resume?.form ?? (prefill ? { ...empty(), kind: prefill.kind } : empty()));
  // The household's address, sector and (for a visit) everyone living there, once the
  // registry has been read; the user can still change any of it.
  const [prefilled, setPrefilled] = useState(!prefill || Boolean(resume));
  if (!prefilled && care) {
    const h = care.households.find((x) => x.id === prefill?.household);
    setPrefilled(true);
    if (h) {
      setDraft((d) => ({
        ...d,
        household: h.id,
        address: d.address || h.address,
        grid: fixedSector ? d.grid : h.grid,
        sector: fixedSector ?? h.sector ?? '',
        persons: d.kind === 'visit' ? h.members.filter((m) => m.status === 'living').map((m) => m.pid) : [],
      }));
    }
  }
  // The categories this user filed under most: the first tiles.
  const used = useMemo(() => {
    const counts = new Map<string, number>();
    for (const r of store.all()) if (r.reported_by === user.id) counts.set(r.category, (counts.get(r.category) ?? 0) + 1);
    return counts;
  }, [store, user.id]);
  const [saving, setSaving] = useState(false);
  const [savedId, setSavedId] = useState<string | null>(null);
  // The visit just saved, and its household: a need it found is one tap away.
  const [savedVisit, setSavedVisit] = useState<{ id: string; household: string } | null>(null);
  // The checklist found something to follow up: the offer to raise a need says so.
  const [concern, setConcern] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [locating, setLocating] = useState(false);
  const [locError, setLocError] = useState<string | null>(null);
  const [photos, setPhotos] = useState<Photo[]>([]);
  // A resumed draft's photos come from the photo database; until then nothing is written
  // over the draft, which would drop them from it.
  const [photosLoaded, setPhotosLoaded] = useState(!resume);
  useEffect(() => {
    if (!resume) return;
    let cancelled = false;
    void (async () => {
      const db = await getPhotos(user.id);
      const found = (await Promise.all(resume.photos.map((sha) => db.get(sha)))).filter((p): p is Photo => p !== undefined);
      if (!cancelled) {
        setPhotos(found);
        setPhotosLoaded(true);
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [resume, user.id]);

  const grid = draft.grid || defaultGrid;
  // A household chosen by opening the form from it is where the user started, not typing.
  const dirty = Boolean(
    draft.title ||
      draft.description ||
      (draft.address && !prefill) ||
      draft.category ||
      photos.length ||
      Object.keys(draft.checks).length,
  );
  const households = (care?.households ?? []).filter((h) => h.grid === grid && (!fixedSector || h.sector === fixedSector));
  const household = care?.households.find((h) => h.id === draft.household);
  useUnsaved(dirty);

  // The form is kept as a draft as the user fills it in (drafts.ts): written a moment
  // after the last change and when the form is left, removed when it is emptied, and
  // deleted with the record's own transaction when it is saved.
  const [draftId, setDraftId] = useState(() => resume?.id ?? crypto.randomUUID());
  const current = useRef<{ id: string; value: SavedDraft | null; frozen: boolean }>({ id: draftId, value: null, frozen: true });
  current.current = {
    id: draftId,
    value: dirty ? { id: draftId, updated: Date.now(), form: draft, photos: photos.map((p) => p.sha256), prefill } : null,
    frozen: saving || !photosLoaded,
  };
  const persist = () => {
    const { id, value, frozen } = current.current;
    if (frozen) return;
    if (value) void store.saveDraft(value);
    else if (store.draft(id)) void store.discardDraft(id);
  };
  useEffect(() => {
    const timer = setTimeout(persist, DRAFT_WRITE_DELAY_MS);
    return () => clearTimeout(timer);
  }, [draft, photos, photosLoaded]);
  useEffect(() => {
    // A call, a switch to the camera app or the phone locking: written at once, since the
    // system may kill the app while it is hidden.
    const hidden = () => {
      if (document.visibilityState === 'hidden') persist();
    };
    document.addEventListener('visibilitychange', hidden);
    return () => {
      document.removeEventListener('visibilitychange', hidden);
      persist();
    };
  }, []);

  const update = (patch: Partial<Draft>) => {
    setSavedId(null);
    setDraft((d) => ({ ...d, ...patch }));
  };
  const input = (field: 'title' | 'description' | 'address') => (e: Event) =>
    update({ [field]: (e.currentTarget as HTMLInputElement).value });

  function locate() {
    setLocating(true);
    setLocError(null);
    currentLocation()
      // Not `update`: a position arriving after a save must not hide its confirmation.
      .then((location) => setDraft((d) => ({ ...d, location })))
      .catch((err: unknown) => setLocError(t(locateErrorKey(err))))
      .finally(() => setLocating(false));
  }

  // The position is taken when the form opens (editable, and again for the next record of
  // a round), so that nobody has to remember the button.
  const located = useRef(false);
  useEffect(() => {
    if (located.current || draft.location) return;
    located.current = true;
    locate();
  }, [draft.location]);

  async function submit(e: Event) {
    e.preventDefault();
    if (saving) return;
    if (!draft.category || !grid) {
      setError(!grid ? t('report.noUnits') : t('report.required'));
      return;
    }
    if (draft.household && draft.kind === 'visit' && draft.persons.length === 0) {
      // A visit that names nobody would count as seeing everyone in the household.
      setError(t('report.personsRequired'));
      return;
    }
    setSaving(true);
    // No draft write may land after the record's transaction removed the draft.
    current.current.frozen = true;
    setError(null);
    const id = crypto.randomUUID();
    const shas = photos.map((p) => p.sha256);
    try {
      // Waiting before the record refers to them, so no saved record points at a draft.
      if (shas.length) await (await getPhotos(user.id)).setState(shas, 'pending');
      await store.create({
        id,
        kind: draft.kind,
        grid,
        sector: draft.sector || undefined,
        category: draft.category,
        // Optional for older users: the category names the record when they leave it empty.
        title: draft.title.trim() || categoryName(reference.categories, draft.category),
        description: draft.description,
        address: draft.address.trim(),
        household: draft.household || undefined,
        persons: draft.household && draft.kind === 'visit' ? draft.persons : undefined,
        raisedFrom: prefill?.raisedFrom,
        checks: draft.kind === 'visit' ? draft.checks : undefined,
        location: draft.location ?? undefined,
        reportedBy: user.id,
        reportedAt: Date.now(),
        urgency: draft.urgent ? 'urgent' : 'normal',
      }, photos.length ? (A, doc) => addAttachments(A, doc, photos.map(toAttachment)) : undefined, draftId);
      setPhotos([]);
      setDraftId(crypto.randomUUID());
      located.current = false; // the next record of a round is somewhere else
      // Saved on the phone; keep the kind and place for the next record of a round.
      setDraft({ ...empty(), kind: draft.kind, grid: draft.grid, sector: draft.sector, group: draft.group });
      if (prefill) setPrefilled(true); // the next record of the round is about another household
      setSavedId(id);
      setSavedVisit(draft.kind === 'visit' && draft.household ? { id, household: draft.household } : null);
      setConcern(draft.kind === 'visit' && VISIT_CHECKS.some((c) => c.options.some((o) => o.concern && draft.checks[c.code] === o.code)));
      window.scrollTo(0, 0); // the confirmation is at the top
      if (navigator.onLine) void syncer.syncNow();
    } catch (err) {
      setError(t('report.saveFailed', { reason: err instanceof Error ? err.message : String(err) }));
    } finally {
      setSaving(false);
    }
  }

  return (
    <main class="screen" data-testid="report">
      <h1 class="screen-title">{t('report.title')}</h1>
      {savedId && (
        <div class="alert alert-ok" role="status" data-testid="saved">
          <p>{t('report.saved')}</p>
          <button type="button" class="link-btn" onClick={() => onOpen(savedId)}>
            {t('report.view')}
          </button>
          {savedVisit?.id === savedId && (
            <button
              type="button"
              class="btn btn-primary btn-block"
              data-testid="raise-need"
              onClick={() => onRaiseNeed({ kind: 'need', household: savedVisit.household, raisedFrom: savedVisit.id })}
            >
              {t(concern ? 'report.raiseNeedConcern' : 'report.raiseNeed')}
            </button>
          )}
        </div>
      )}
      {prefill?.raisedFrom && (
        <p class="alert alert-info" data-testid="raised-from">
          {t('report.raisedFrom')}
        </p>
      )}
      <form class="card form" onSubmit={submit} noValidate>
        <fieldset class="field">
          <legend>{t('report.kind')}</legend>
          <div class="segmented" role="radiogroup">
            {KINDS.map((k) => (
              <button
                key={k}
                type="button"
                role="radio"
                aria-checked={draft.kind === k}
                class={draft.kind === k ? 'seg seg-on' : 'seg'}
                data-testid={`kind-${k}`}
                onClick={() =>
                  update({
                    kind: k,
                    group: '',
                    category: '',
                    persons:
                      household && draft.persons.length === 0
                        ? household.members.filter((m) => m.status === 'living').map((m) => m.pid)
                        : draft.persons,
                  })
                }
              >
                {t(`kind.${k}`)}
              </button>
            ))}
          </div>
        </fieldset>

        <div class="field">
          <span class="label">{t('photos.title')}</span>
          <DraftPhotos photos={photos} onRemove={(sha) => setPhotos((ps) => ps.filter((p) => p.sha256 !== sha))} />
          <PhotoPicker
            userId={user.id}
            state="draft"
            disabled={saving}
            onAdded={(added) => {
              setSavedId(null);
              setPhotos((ps) => [...ps, ...added.filter((a) => !ps.some((p) => p.sha256 === a.sha256))]);
            }}
          />
        </div>

        <CategoryTiles
          categories={reference.categories}
          kind={draft.kind}
          used={used}
          category={draft.category}
          onPick={(code) => update({ group: groupOf(reference.categories, code), category: code })}
        />
        <CategoryPicker
          categories={reference.categories}
          kind={draft.kind}
          group={draft.group}
          category={draft.category}
          onChange={(group, category) => update({ group, category })}
        />

        <div class="field">
          <label for="title">{t('report.titleField')}</label>
          <input id="title" data-testid="title" maxLength={200} value={draft.title} onInput={input('title')} />
        </div>
        <div class="field">
          <label for="description">{t('report.description')}</label>
          <textarea
            id="description"
            data-testid="description"
            rows={4}
            maxLength={20000}
            value={draft.description}
            onInput={input('description')}
          />
        </div>
        <div class="field">
          <label for="address">{t('report.address')}</label>
          <input id="address" data-testid="address" maxLength={500} value={draft.address} onInput={input('address')} />
        </div>
        {households.length > 0 && (
          <div class="field">
            <label for="household">{t('report.household')}</label>
            <select
              id="household"
              data-testid="household"
              value={draft.household}
              onChange={(e) => {
                const h = care?.households.find((x) => x.id === e.currentTarget.value);
                update({
                  household: h?.id ?? '',
                  address: draft.address || h?.address || '',
                  sector: fixedSector ?? h?.sector ?? draft.sector,
                  persons: h ? h.members.filter((m) => m.status === 'living').map((m) => m.pid) : [],
                });
              }}
            >
              <option value="">{t('report.noHousehold')}</option>
              {households.map((h) => (
                <option key={h.id} value={h.id}>
                  {h.number} · {h.address}
                </option>
              ))}
            </select>
          </div>
        )}
        {household && draft.kind === 'visit' && (
          <fieldset class="field" data-testid="persons">
            <legend>{t('report.persons')}</legend>
            <p class="muted">{t('report.personsHint')}</p>
            {household.members
              .filter((m) => m.status === 'living')
              .map((m) => (
                <label key={m.pid} class="check-row">
                  <input
                    type="checkbox"
                    data-testid="person"
                    data-pid={m.pid}
                    checked={draft.persons.includes(m.pid)}
                    onChange={(e) => {
                      const on = e.currentTarget.checked;
                      update({ persons: on ? [...draft.persons, m.pid] : draft.persons.filter((p) => p !== m.pid) });
                    }}
                  />
                  {care?.residents.get(m.pid)?.name_masked ?? m.pid.slice(0, 8)} · {t(`relation.${m.relation}`)}
                </label>
              ))}
          </fieldset>
        )}

        {draft.kind === 'visit' && (
          <fieldset class="field" data-testid="checklist">
            <legend>{t('report.checklist')}</legend>
            {VISIT_CHECKS.map((c) => (
              <div key={c.code} class="field">
                <span class="label">{getLang() === 'en' ? c.label_en : c.label_zh}</span>
                <div class="segmented segmented-wrap" role="radiogroup">
                  {c.options.map((o) => (
                    <button
                      key={o.code}
                      type="button"
                      role="radio"
                      aria-checked={draft.checks[c.code] === o.code}
                      class={draft.checks[c.code] === o.code ? (o.concern ? 'seg seg-on seg-urgent' : 'seg seg-on') : 'seg'}
                      data-testid={`check-${c.code}-${o.code}`}
                      onClick={() => {
                        const checks = { ...draft.checks };
                        if (checks[c.code] === o.code) delete checks[c.code];
                        else checks[c.code] = o.code;
                        update({ checks });
                      }}
                    >
                      {getLang() === 'en' ? o.label_en : o.label_zh}
                    </button>
                  ))}
                </div>
              </div>
            ))}
          </fieldset>
        )}

        <div class="field">
          <span class="label">{t('report.urgency')}</span>
          <div class="segmented" role="radiogroup">
            {[false, true].map((urgent) => (
              <button
                key={String(urgent)}
                type="button"
                role="radio"
                aria-checked={draft.urgent === urgent}
                class={draft.urgent === urgent ? (urgent ? 'seg seg-on seg-urgent' : 'seg seg-on') : 'seg'}
                data-testid={urgent ? 'urgency-urgent' : 'urgency-normal'}
                onClick={() => update({ urgent })}
              >
                {t(urgent ? 'urgency.urgent' : 'urgency.normal')}
              </button>
            ))}
          </div>
        </div>

        <div class="field">
          <span class="label">{t('report.location')}</span>
          {draft.location && (
            <p class="muted" data-testid="location">
              {t('report.locationValue', {
                lat: draft.location.lat.toFixed(5),
                lng: draft.location.lng.toFixed(5),
                acc: Math.round(draft.location.accuracy_m ?? 0),
              })}
            </p>
          )}
          {locError && <p class="muted">{locError}</p>}
          <div class="row">
            <button type="button" class="btn btn-light" disabled={locating} data-testid="locate" onClick={locate}>
              {locating ? t('report.locating') : draft.location ? t('report.relocate') : t('report.locate')}
            </button>
            {draft.location && (
              <button type="button" class="btn btn-light" onClick={() => update({ location: null })}>
                {t('report.clearLocation')}
              </button>
            )}
          </div>
        </div>
        <Duplicates store={store} category={draft.category} location={draft.location} onOpen={onOpen} />

        <PlacePicker user={user} reference={reference} grid={grid} sector={draft.sector} onChange={update} />

        {error && (
          <p class="alert alert-error" role="alert" data-testid="report-error">
            {error}
          </p>
        )}
        <button type="submit" class="btn btn-primary btn-block" disabled={saving} data-testid="save">
          {saving ? t('report.saving') : t('report.save')}
        </button>
      </form>
    </main>
  );
}
