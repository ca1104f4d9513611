import { useEffect, useState } from 'preact/hooks';
import type { User } from '../api';
import { getLang } from '../i18n';
import { categoryName, formatTime, label, unitName } from '../labels';
import type { Reference } from '../reference';
import type { Store } from '../store';
import { act } from './actions';
import { listCases, type Bucket, type CaseItem, type CasePage, type CaseQuery } from './api';
import { ct, type CKey } from './i18n';
import { DEPARTMENTS } from './record';
import { actionVerb } from './RecordPane';
import type { ConsoleSyncer } from './sync';
import { LEVELS, STATUSES, type Action } from './workflow.mjs';

export const PAGE_SIZE = 20;

export function bucketsFor(user: User): Bucket[] {
  if (user.role === 'department_handler') return ['mine', 'overdue', 'all'];
  return ['new', 'escalated', 'awaiting_verification', 'overdue', 'conflicting', 'all'];
}

export interface Filters {
  level: string;
  under: string;
  category: string;
  status: string;
  urgency: string;
  from: string;
  to: string;
  q: string;
  sort: 'reported_at' | 'due_at' | 'updated_at';
}

export const NO_FILTERS: Filters = { level: '', under: '', category: '', status: '', urgency: '', from: '', to: '', q: '', sort: 'reported_at' };

interface Props {
  user: User;
  store: Store;
  syncer: ConsoleSyncer;
  reference: Reference;
  people: User[];
  selected: string | null;
  onSelect: (id: string) => void;
  /** Bumped after a sync, so the list shows what the server now says. */
  refresh: number;
  /** The bucket to show first (an overview tile's); the first of the role's otherwise. */
  initialBucket?: Bucket;
}

function dayStart(date: string): number | undefined {
  if (!date) return undefined;
  const [y, m, d] = date.split('-').map(Number);
  return new Date(y, m - 1, d).getTime();
}

export function Inbox({ user, store, syncer, reference, people, selected, onSelect, refresh, initialBucket }: Props) {
  const buckets = bucketsFor(user);
  const [bucket, setBucket] = useState<Bucket>(
    initialBucket && buckets.includes(initialBucket) ? initialBucket : buckets[0],
  );
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [q, setQ] = useState('');
  const [page, setPage] = useState(0);
  const [data, setData] = useState<CasePage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [checked, setChecked] = useState<Set<string>>(new Set());
  const [bulkResult, setBulkResult] = useState('');

  // Typing in the search box waits for a pause before asking the server.
  useEffect(() => {
    const t = window.setTimeout(() => setFilters((f) => (f.q === q ? f : { ...f, q })), 300);
    return () => window.clearTimeout(t);
  }, [q]);

  const query: CaseQuery = {
    bucket,
    level: filters.level || undefined,
    under: filters.under || undefined,
    category: filters.category || undefined,
    status: filters.status || undefined,
    urgency: filters.urgency || undefined,
    from: dayStart(filters.from),
    to: filters.to ? (dayStart(filters.to) ?? 0) + 86_400_000 : undefined,
    q: filters.q.trim() || undefined,
    sort: filters.sort,
    limit: PAGE_SIZE,
    offset: page * PAGE_SIZE,
  };
  const key = JSON.stringify(query);

  useEffect(() => {
    let cancelled = false;
    listCases(query)
      .then((p) => {
        if (cancelled) return;
        setData(p);
        setError(null);
      })
      .catch((err: unknown) => !cancelled && setError(err instanceof Error ? err.message : String(err)));
    return () => {
      cancelled = true;
    };
  }, [key, refresh]);

  const set = (patch: Partial<Filters>) => {
    setFilters((f) => ({ ...f, ...patch }));
    setPage(0);
  };
  const pages = data ? Math.max(1, Math.ceil(data.total / PAGE_SIZE)) : 1;
  const grids = reference.units.filter((u) => u.kind === 'grid');
  const classes = reference.categories.filter((c) => c.parent === null);
  const items = data?.items ?? [];

  return (
    <section class="c-inbox-list" data-testid="inbox">
      <div class="c-buckets" role="tablist">
        {buckets.map((b) => {
          const n = b === 'all' ? undefined : data?.counts[b];
          return (
            <button
              key={b}
              type="button"
              role="tab"
              aria-selected={bucket === b}
              class={bucket === b ? 'c-bucket c-bucket-on' : 'c-bucket'}
              data-testid={`bucket-${b}`}
              onClick={() => {
                setBucket(b);
                setPage(0);
                setChecked(new Set());
              }}
            >
              {ct(`bucket.${b}` as CKey)}
              {n !== undefined && (
                <span class={n > 0 ? 'c-count c-count-on' : 'c-count'} data-testid={`count-${b}`}>
                  {n}
                </span>
              )}
            </button>
          );
        })}
      </div>

      <div class="c-filters">
        <input
          type="search"
          class="c-search"
          placeholder={ct('filter.search')}
          aria-label={ct('filter.search')}
          data-testid="inbox-search"
          value={q}
          onInput={(e) => setQ(e.currentTarget.value)}
        />
        <Select k="filter.level" value={filters.level} onChange={(level) => set({ level })} testid="filter-level">
          {LEVELS.map((l) => (
            <option key={l} value={l}>
              {ct(`level.${l}` as CKey)}
            </option>
          ))}
        </Select>
        <Select k="filter.unit" value={filters.under} onChange={(under) => set({ under })} testid="filter-unit">
          {grids.map((g) => (
            <option key={g.path} value={g.path}>
              {g.name}
            </option>
          ))}
        </Select>
        <Select k="filter.category" value={filters.category} onChange={(category) => set({ category })} testid="filter-category">
          {classes.map((c) => [
            <option key={c.code} value={c.code}>
              {categoryName(reference.categories, c.code)}
            </option>,
            ...reference.categories
              .filter((s) => s.parent === c.code)
              .map((s) => (
                <option key={s.code} value={s.code}>
                  {'　'}
                  {categoryName(reference.categories, s.code)}
                </option>
              )),
          ])}
        </Select>
        <Select k="filter.status" value={filters.status} onChange={(status) => set({ status })} testid="filter-status">
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {label('status', s)}
            </option>
          ))}
        </Select>
        <Select k="filter.urgency" value={filters.urgency} onChange={(urgency) => set({ urgency })} testid="filter-urgency">
          {['normal', 'urgent'].map((u) => (
            <option key={u} value={u}>
              {label('urgency', u)}
            </option>
          ))}
        </Select>
        <label class="c-filter">
          <span>{ct('filter.from')}</span>
          <input type="date" value={filters.from} data-testid="filter-from" onChange={(e) => set({ from: e.currentTarget.value })} />
        </label>
        <label class="c-filter">
          <span>{ct('filter.to')}</span>
          <input type="date" value={filters.to} data-testid="filter-to" onChange={(e) => set({ to: e.currentTarget.value })} />
        </label>
        <label class="c-filter">
          <span>{ct('filter.sort')}</span>
          <select
            value={filters.sort}
            data-testid="filter-sort"
            onChange={(e) => set({ sort: e.currentTarget.value as Filters['sort'] })}
          >
            {(['reported_at', 'due_at', 'updated_at'] as const).map((s) => (
              <option key={s} value={s}>
                {ct(`sort.${s}`)}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          class="link-btn"
          onClick={() => {
            setFilters(NO_FILTERS);
            setQ('');
            setPage(0);
          }}
        >
          {ct('filter.clear')}
        </button>
      </div>

      {checked.size > 0 && (
        <BulkBar
          user={user}
          ids={Array.from(checked)}
          store={store}
          syncer={syncer}
          reference={reference}
          people={people}
          onDone={(result) => {
            setChecked(new Set());
            setBulkResult(result);
          }}
        />
      )}
      {bulkResult && (
        <p class="alert alert-ok" role="status" data-testid="bulk-result">
          {bulkResult}
        </p>
      )}

      {error && (
        <p class="alert alert-error" role="alert">
          {ct('list.loadFailed', { reason: error })}
        </p>
      )}
      <div class="c-list-head">
        <label class="c-check">
          <input
            type="checkbox"
            data-testid="select-page"
            checked={items.length > 0 && items.every((i) => checked.has(i.id))}
            onChange={(e) => {
              const next = new Set(checked);
              for (const i of items) {
                if (e.currentTarget.checked) next.add(i.id);
                else next.delete(i.id);
              }
              setChecked(next);
            }}
          />
          {ct('list.selectAll')}
        </label>
        <span class="muted" data-testid="inbox-total" data-total={data?.total ?? ''}>
          {data ? ct('list.total', { n: data.total }) : ''}
        </span>
      </div>
      {data && items.length === 0 && (
        <p class="empty" data-testid="inbox-empty">
          {ct('list.empty')}
        </p>
      )}
      <ul class="c-list" aria-busy={!data}>
        {items.map((item) => (
          <CaseRow
            key={item.id}
            item={item}
            reference={reference}
            active={item.id === selected}
            checked={checked.has(item.id)}
            onCheck={(on) => {
              const next = new Set(checked);
              if (on) next.add(item.id);
              else next.delete(item.id);
              setChecked(next);
            }}
            onOpen={() => onSelect(item.id)}
          />
        ))}
      </ul>
      {data && data.total > PAGE_SIZE && (
        <div class="c-pager">
          <button type="button" class="btn btn-light" disabled={page === 0} data-testid="page-prev" onClick={() => setPage(page - 1)}>
            {ct('list.prev')}
          </button>
          <span data-testid="page-info">{ct('list.page', { p: page + 1, n: pages })}</span>
          <button type="button" class="btn btn-light" disabled={page + 1 >= pages} data-testid="page-next" onClick={() => setPage(page + 1)}>
            {ct('list.next')}
          </button>
        </div>
      )}
    </section>
  );
}

function Select({
  k,
  value,
  onChange,
  testid,
  children,
}: {
  k: CKey;
  value: string;
  onChange: (v: string) => void;
  testid: string;
  children: preact.ComponentChildren;
}) {
  return (
    <label class="c-filter">
      <span>{ct(k)}</span>
      <select value={value} data-testid={testid} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">{ct('filter.any')}</option>
        {children}
      </select>
    </label>
  );
}

function CaseRow({
  item,
  reference,
  active,
  checked,
  onCheck,
  onOpen,
}: {
  item: CaseItem;
  reference: Reference;
  active: boolean;
  checked: boolean;
  onCheck: (on: boolean) => void;
  onOpen: () => void;
}) {
  return (
    <li
      class={active ? 'c-row c-row-on' : 'c-row'}
      data-testid="case-row"
      data-id={item.id}
      data-status={item.status}
      data-conflict={String(item.conflict)}
    >
      <input
        type="checkbox"
        class="c-row-check"
        aria-label={item.title}
        data-testid="case-check"
        checked={checked}
        onChange={(e) => onCheck(e.currentTarget.checked)}
      />
      <button type="button" class="c-row-main" data-testid="case-open" onClick={onOpen}>
        <span class="c-row-title">
          {item.urgency === 'urgent' && <span class="chip chip-urgent">{label('urgency', 'urgent')}</span>}
          {item.conflict && <span class="chip c-flag c-flag-conflict" data-testid="row-conflict">{ct('list.conflict')}</span>}
          {item.overdue && <span class="chip c-flag">{ct('list.overdue')}</span>}
          {item.urged && <span class="chip c-flag">{ct('list.urged')}</span>}
          <span class="record-title">{item.title || '—'}</span>
        </span>
        <span class="c-row-meta muted">
          <span class="chip c-status">{label('status', item.status)}</span> {ct(`level.${item.level}` as CKey)} ·{' '}
          {categoryName(reference.categories, item.category)} · {unitName(reference.units, item.sector ?? item.grid)} ·{' '}
          {formatTime(item.reported_at)}
          {item.due_at !== null && ` · ${ct('list.due', { t: formatTime(item.due_at) })}`}
        </span>
      </button>
    </li>
  );
}

const BULK: Action[] = ['accept', 'assign', 'dispatch'];

/** Accept, assign or dispatch every selected record whose status allows it. */
function BulkBar({
  user,
  ids,
  store,
  syncer,
  reference,
  people,
  onDone,
}: {
  user: User;
  ids: string[];
  store: Store;
  syncer: ConsoleSyncer;
  reference: Reference;
  people: User[];
  onDone: (result: string) => void;
}) {
  const [action, setAction] = useState<Action>('accept');
  const [assignee, setAssignee] = useState('');
  const [department, setDepartment] = useState('');
  const [busy, setBusy] = useState(false);
  const staff = people.filter((p) => p.role === 'grid_staff');
  const ready = action === 'accept' || (action === 'assign' ? Number(assignee) > 0 : department !== '');

  async function apply() {
    setBusy(true);
    let ok = 0;
    try {
      await syncer.open(ids.slice(0, 200));
    } catch {
      // Offline: act on the copies held here; the others are skipped.
    }
    for (const id of ids) {
      const done = await act(store, user, reference.categories, id, action, {
        assignee: action === 'assign' ? Number(assignee) : undefined,
        department: action === 'dispatch' ? department : undefined,
      });
      if (done) ok++;
    }
    await syncer.syncNow().catch(() => undefined);
    setBusy(false);
    onDone(ct('bulk.done', { ok, skip: ids.length - ok }));
  }

  return (
    <div class="c-bulk" data-testid="bulk">
      <strong>{ct('list.selected', { n: ids.length })}</strong>
      <select value={action} data-testid="bulk-action" onChange={(e) => setAction(e.currentTarget.value as Action)}>
        {BULK.map((a) => (
          <option key={a} value={a}>
            {actionVerb(a)}
          </option>
        ))}
      </select>
      {action === 'assign' &&
        (staff.length ? (
          <select value={assignee} data-testid="bulk-assignee" onChange={(e) => setAssignee(e.currentTarget.value)}>
            <option value="">{ct('actions.choose')}</option>
            {staff.map((p) => (
              <option key={p.id} value={String(p.id)}>
                {p.name} · {p.unit_name}
              </option>
            ))}
          </select>
        ) : (
          <input
            placeholder={ct('actions.assigneeId')}
            data-testid="bulk-assignee"
            value={assignee}
            onInput={(e) => setAssignee(e.currentTarget.value.replace(/\D/g, ''))}
          />
        ))}
      {action === 'dispatch' && (
        <select value={department} data-testid="bulk-department" onChange={(e) => setDepartment(e.currentTarget.value)}>
          <option value="">{ct('actions.choose')}</option>
          {DEPARTMENTS.map((d) => (
            <option key={d.key} value={d.key}>
              {getLang() === 'en' ? d.en : d.zh}
            </option>
          ))}
        </select>
      )}
      <button type="button" class="btn btn-primary" disabled={!ready || busy} data-testid="bulk-apply" onClick={() => void apply()}>
        {busy ? ct('bulk.working') : ct('bulk.apply')}
      </button>
    </div>
  );
}
