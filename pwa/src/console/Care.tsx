import { useEffect, useRef, useState } from 'preact/hooks';
import { t } from '../i18n';
import { categoryName, formatDate, formatTime, label, unitName } from '../labels';
import type { Reference } from '../reference';
import type { PersonalField } from '../generated/protocol.mjs';
import { dueText, tagName } from '../screens/Visits';
import {
  getDue,
  getHousehold,
  getVisitors,
  lookupResident,
  revealResident,
  searchHouseholds,
  type DuePage,
  type HouseholdLine,
  type HouseholdPage,
  type VisitorLine,
} from './api';
import { ct } from './i18n';
import type { Store } from '../store';
import type { ConsoleSyncer } from './sync';
import { readHousehold, setMemberInterval } from '../household';

interface Props {
  reference: Reference;
  store: Store;
  syncer: ConsoleSyncer;
  refresh: number;
  /** Opens a record of a household in the inbox's record pane. */
  onOpenRecord: (id: string) => void;
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The care plan for a supervisor: who is due or overdue per sector of the caller's scope
 * (counted on the server, so no community's people are downloaded for a number), the
 * register searchable, and a household's page with its people masked until revealed for
 * a reason the server logs.
 */
export function Care({ reference, store, syncer, refresh, onOpenRecord }: Props) {
  const [unit, setUnit] = useState<string | undefined>(undefined);
  const [due, setDue] = useState<DuePage | null>(null);
  const [visitors, setVisitors] = useState<VisitorLine[] | null>(null);
  const [q, setQ] = useState('');
  const [overdueOnly, setOverdueOnly] = useState(false);
  const [tag, setTag] = useState('');
  const [idNumber, setIdNumber] = useState('');
  const [lookup, setLookup] = useState<string | null>(null);
  const [found, setFound] = useState<HouseholdLine[] | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    getDue({ unit, limit: 100 })
      .then((d) => !cancelled && (setDue(d), setError(null)))
      .catch((err: unknown) => !cancelled && setError(errorText(err)));
    getVisitors({ unit, days: 30 })
      .then((v) => !cancelled && setVisitors(v))
      .catch((err: unknown) => !cancelled && setError(errorText(err)));
    return () => {
      cancelled = true;
    };
  }, [unit, refresh]);

  useEffect(() => {
    let cancelled = false;
    const timer = window.setTimeout(() => {
      searchHouseholds({ unit, q: q.trim() || undefined, tag: tag || undefined, overdue: overdueOnly, limit: 100 })
        .then((h) => !cancelled && setFound(h))
        .catch((err: unknown) => !cancelled && setError(errorText(err)));
    }, 250);
    return () => {
      cancelled = true;
      window.clearTimeout(timer);
    };
  }, [unit, q, tag, overdueOnly, refresh]);

  // By ID number: the server compares keyed hashes, so the number is never searched in clear.
  async function findById(e: Event) {
    e.preventDefault();
    setLookup(null);
    try {
      const found = await lookupResident(idNumber.trim());
      if (found) setOpen(found.household);
      else setLookup(ct('care.notFound'));
    } catch (err) {
      setLookup(errorText(err));
    }
  }

  const name = (path: string | null | undefined) => (path ? unitName(reference.units, path) : ct('care.noSector'));

  return (
    <section class="c-care" data-testid="care">
      {error && <p class="alert alert-error">{error}</p>}
      <div class="card">
        <div class="c-overview-head">
          <h2 class="section-title">{ct('care.title')}</h2>
          {unit && (
            <button type="button" class="btn btn-light c-small" onClick={() => setUnit(undefined)}>
              {ct('care.allUnits')}
            </button>
          )}
        </div>
        {due && (
          <>
            <p class="muted" data-testid="care-total" data-overdue={due.total.overdue}>
              {ct('care.total', {
                unit: name(due.unit),
                on_plan: due.total.on_plan,
                overdue: due.total.overdue,
                due: due.total.due,
                soon: due.total.soon,
                never: due.total.never_visited,
              })}
            </p>
            <table class="c-table" data-testid="care-sectors">
              <thead>
                <tr>
                  <th>{ct('care.sector')}</th>
                  <th>{ct('care.onPlan')}</th>
                  <th>{ct('care.overdue')}</th>
                  <th>{ct('care.due')}</th>
                  <th>{ct('care.soon')}</th>
                  <th>{ct('care.never')}</th>
                </tr>
              </thead>
              <tbody>
                {due.by_sector.map((s) => (
                  <tr key={s.sector ?? ''} data-testid="care-sector" data-overdue={s.overdue}>
                    <td>
                      {s.sector ? (
                        <button type="button" class="link-btn" onClick={() => setUnit(s.sector ?? undefined)}>
                          {name(s.sector)}
                        </button>
                      ) : (
                        name(null)
                      )}
                    </td>
                    <td>{s.on_plan}</td>
                    <td class={s.overdue > 0 ? 'c-bad' : ''}>{s.overdue}</td>
                    <td>{s.due}</td>
                    <td>{s.soon}</td>
                    <td>{s.never_visited}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <h3 class="section-title">{ct('care.visitors')}</h3>
            {visitors && visitors.length === 0 && <p class="muted">{ct('care.noVisits')}</p>}
            {visitors && visitors.length > 0 && (
              <table class="c-table" data-testid="care-visitors">
                <thead>
                  <tr>
                    <th>{ct('care.visitor')}</th>
                    <th>{ct('care.sector')}</th>
                    <th>{ct('care.visits')}</th>
                    <th>{ct('care.householdsSeen')}</th>
                    <th>{ct('care.peopleSeen')}</th>
                    <th>{ct('care.onTime')}</th>
                    <th>{ct('care.patchOverdue')}</th>
                  </tr>
                </thead>
                <tbody>
                  {visitors.map((v) => {
                    const who = reference.people.find((p) => p.id === v.user_id);
                    // A leader's patch is their sector: its overdue count is theirs to bring down.
                    const patch = who?.role === 'leader' ? due.by_sector.find((s) => s.sector === who.unit) : undefined;
                    return (
                      <tr key={v.user_id} data-testid="care-visitor" data-user={v.user_id} data-visits={v.visits}>
                        <td>{who?.name ?? `#${v.user_id}`}</td>
                        <td>{who ? (who.unit_name || name(who.unit)) : ''}</td>
                        <td>{v.visits}</td>
                        <td>{v.households}</td>
                        <td>{v.people}</td>
                        <td data-testid="care-visitor-timely">
                          {v.on_time + v.late > 0 ? `${Math.round((100 * v.on_time) / (v.on_time + v.late))}% (${v.on_time} / ${v.on_time + v.late})` : ''}
                        </td>
                        <td class={patch && patch.overdue > 0 ? 'c-bad' : ''}>{patch ? `${patch.overdue} / ${patch.on_plan}` : ''}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            )}
            <h3 class="section-title">{ct('care.list')}</h3>
            {due.items.length === 0 && <p class="muted">{ct('care.none')}</p>}
            <ul class="c-list" data-testid="care-due">
              {due.items.map((i) => (
                <li key={i.pid}>
                  <button type="button" class="c-line" data-testid="care-due-row" onClick={() => setOpen(i.household)}>
                    <span class={`chip due-${i.state}`}>
                      {i.due_at !== null ? dueText({ due_at: i.due_at, state: i.state }, due.now) : ''}
                    </span>
                    <strong>{i.name_masked}</strong>
                    <span class="muted">
                      {name(i.sector ?? i.grid)} · {i.tags.map((x) => tagName(reference.careTags, x)).join('、')}
                    </span>
                  </button>
                </li>
              ))}
            </ul>
          </>
        )}
      </div>

      <div class="card">
        <h2 class="section-title">{ct('care.register')}</h2>
        <div class="c-filters">
          <input
            type="search"
            class="c-search"
            placeholder={ct('care.search')}
            aria-label={ct('care.search')}
            data-testid="care-search"
            value={q}
            onInput={(e) => setQ(e.currentTarget.value)}
          />
          <label class="c-filter">
            {ct('care.tags')}
            <select data-testid="care-tag" value={tag} onChange={(e) => setTag(e.currentTarget.value)}>
              <option value="">{ct('care.anyTag')}</option>
              {reference.careTags.map((x) => (
                <option key={x.code} value={x.code}>
                  {tagName(reference.careTags, x.code)}
                </option>
              ))}
            </select>
          </label>
          <label class="c-check">
            <input type="checkbox" checked={overdueOnly} onChange={(e) => setOverdueOnly(e.currentTarget.checked)} />
            {ct('care.overdueOnly')}
          </label>
        </div>
        <form class="c-filters" onSubmit={(e) => void findById(e)}>
          <input
            class="c-search"
            inputMode="text"
            autoComplete="off"
            maxLength={18}
            placeholder={ct('care.byId')}
            aria-label={ct('care.byId')}
            data-testid="care-id"
            value={idNumber}
            onInput={(e) => setIdNumber(e.currentTarget.value)}
          />
          <button type="submit" class="btn btn-light c-small" disabled={idNumber.trim().length !== 18}>
            {ct('care.find')}
          </button>
          {lookup && <span class="muted">{lookup}</span>}
        </form>
        <table class="c-table" data-testid="care-households">
          <thead>
            <tr>
              <th>{ct('care.number')}</th>
              <th>{ct('care.address')}</th>
              <th>{ct('care.sector')}</th>
              <th>{ct('care.people')}</th>
              <th>{ct('care.overdue')}</th>
            </tr>
          </thead>
          <tbody>
            {(found ?? []).map((h) => (
              <tr key={h.id} data-testid="care-household" class={open === h.id ? 'c-row-on' : ''}>
                <td>
                  <button type="button" class="link-btn" onClick={() => setOpen(h.id)}>
                    {h.number}
                  </button>
                </td>
                <td>{h.address}</td>
                <td>{name(h.sector ?? h.grid)}</td>
                <td>
                  {h.people} / {h.on_plan}
                </td>
                <td class={h.overdue > 0 ? 'c-bad' : ''}>{h.overdue}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      {open && (
        <HouseholdCard
          // Not keyed by `refresh`: opening fetches the household through a sync, and each
          // sync's end bumps `refresh`, which would open it again, for ever.
          key={open}
          id={open}
          reference={reference}
          store={store}
          syncer={syncer}
          onOpenRecord={onOpenRecord}
        />
      )}
    </section>
  );
}

const FIELDS: PersonalField[] = ['name', 'phone', 'id_number'];

/** Intervals a supervisor picks from, in days; none means the care tags' default. */
const INTERVALS = [7, 14, 30, 60, 90];

function HouseholdCard({
  id,
  reference,
  store,
  syncer,
  onOpenRecord,
}: {
  id: string;
  reference: Reference;
  store: Store;
  syncer: ConsoleSyncer;
  onOpenRecord: (id: string) => void;
}) {
  const [page, setPage] = useState<HouseholdPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [asking, setAsking] = useState<string | null>(null);
  const [reason, setReason] = useState('');
  const [clear, setClear] = useState<Record<string, { name?: string; phone?: string; id_number?: string }>>({});
  const card = useRef<HTMLDivElement>(null);

  const [saving, setSaving] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  // The intervals a supervisor set, from the household document (null until it is here).
  const [overrides, setOverrides] = useState<Record<string, number | undefined> | null>(null);
  useEffect(() => {
    getHousehold(id)
      .then(setPage)
      .catch((err: unknown) => setError(errorText(err)));
    void syncer
      .open([id])
      .then(() => store.load(id))
      .then((got) => {
        if (!got) return;
        const h = readHousehold(got.doc);
        setOverrides(Object.fromEntries(h.members.map((m) => [m.pid, m.interval_days])));
      })
      .catch(() => setOverrides(null)); // offline: the plan cannot be changed now
  }, [id, version]);

  // The plan is the household document's: fetched by id, changed, pushed, then read back.
  async function setInterval(pid: string, days: number | null) {
    setSaving(pid);
    try {
      await syncer.open([id]);
      const found = await store.edit(id, (A, doc) => setMemberInterval(A, doc, pid, days));
      if (!found) throw new Error(ct('care.notLoaded'));
      await syncer.syncNow();
      setVersion((v) => v + 1);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setSaving(null);
    }
  }
  // It opens below the lists: bring it into view rather than leave the user to look for it.
  useEffect(() => card.current?.scrollIntoView({ block: 'start' }), [page !== null]);

  async function reveal(pid: string) {
    try {
      const shown = await revealResident(pid, FIELDS, reason);
      setClear((c) => ({ ...c, [pid]: shown }));
      setAsking(null);
      setReason('');
    } catch (err) {
      setError(errorText(err));
    }
  }

  if (error) return <p class="alert alert-error">{error}</p>;
  if (!page) return <p class="muted">{t('app.loading')}</p>;
  return (
    <div class="card" ref={card} data-testid="care-household-page" data-id={id}>
      <h2 class="section-title">
        {page.number} · {page.address}
      </h2>
      <p class="muted">{unitName(reference.units, page.sector ?? page.grid)}</p>
      <table class="c-table">
        <thead>
          <tr>
            <th>{ct('care.name')}</th>
            <th>{ct('care.relation')}</th>
            <th>{ct('care.born')}</th>
            <th>{ct('care.phone')}</th>
            <th>{ct('care.idNumber')}</th>
            <th>{ct('care.tags')}</th>
            <th>{ct('care.plan')}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {page.members.map((m) => {
            const c = clear[m.pid];
            return (
              <tr key={m.pid} data-testid="care-member" data-pid={m.pid}>
                <td data-testid="care-member-name">{c?.name ?? m.name_masked}</td>
                <td>
                  {t(`relation.${m.relation}`)}
                  {m.status !== 'living' && ` · ${t(`resident.${m.status}`)}`}
                </td>
                <td>
                  {m.gender ? `${t(`gender.${m.gender}`)} ` : ''}
                  {m.birth_year ?? ''}
                </td>
                <td data-testid="care-member-phone">{c?.phone ?? m.phone_masked ?? ''}</td>
                <td data-testid="care-member-id">{c?.id_number ?? m.id_number_masked ?? ''}</td>
                <td>{m.tags.map((x) => tagName(reference.careTags, x)).join('、')}</td>
                <td>
                  <select
                    aria-label={ct('care.plan')}
                    data-testid="care-interval"
                    disabled={overrides === null || saving === m.pid || m.status !== 'living'}
                    value={overrides?.[m.pid] ?? ''}
                    onChange={(e) => void setInterval(m.pid, e.currentTarget.value ? Number(e.currentTarget.value) : null)}
                  >
                    <option value="">{ct('care.byTags')}</option>
                    {INTERVALS.map((n) => (
                      <option key={n} value={n}>
                        {ct('care.every', { n })}
                      </option>
                    ))}
                  </select>{' '}
                  {[
                    m.interval_days ? ct('care.every', { n: m.interval_days }) : '',
                    m.last_visit_at ? t('due.lastVisit', { date: formatDate(m.last_visit_at) }) : '',
                  ]
                    .filter(Boolean)
                    .join(' · ')}
                  {m.due_state && m.due_at !== null && (
                    <span class={`chip due-${m.due_state}`}> {dueText({ due_at: m.due_at, state: m.due_state }, Date.now())}</span>
                  )}
                </td>
                <td>
                  {!m.erased && !c && asking !== m.pid && (
                    <button type="button" class="btn btn-light c-small" data-testid="care-reveal" onClick={() => setAsking(m.pid)}>
                      {ct('care.reveal')}
                    </button>
                  )}
                  {asking === m.pid && (
                    <span class="c-action-form">
                      <input
                        aria-label={t('household.reasonText')}
                        placeholder={ct('care.reasonPlaceholder')}
                        maxLength={200}
                        data-testid="care-reason"
                        value={reason}
                        onInput={(e) => setReason(e.currentTarget.value)}
                      />
                      <button
                        type="button"
                        class="btn btn-primary c-small"
                        disabled={!reason.trim()}
                        data-testid="care-reveal-confirm"
                        onClick={() => void reveal(m.pid)}
                      >
                        {t('household.revealConfirm')}
                      </button>
                    </span>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <h3 class="section-title">{t('household.history')}</h3>
      {page.records.length === 0 && <p class="muted">{t('household.noHistory')}</p>}
      <ul class="c-list">
        {page.records.map((r) => (
          <li key={r.id}>
            <button type="button" class="c-line" data-testid="care-record" onClick={() => onOpenRecord(r.id)}>
              <span class="chip">{label('status', r.status)}</span>
              <strong>{r.title}</strong>
              <span class="muted">
                {label('kind', r.kind)} · {categoryName(reference.categories, r.category)} · {formatTime(r.reported_at)}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
