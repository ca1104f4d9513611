import { useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useStoreVersion } from '../hooks';
import { t } from '../i18n';
import { categoryName, formatTime, label } from '../labels';
import type { Reference } from '../reference';
import type { Store, Summary, SyncState } from '../store';
import RULES from '../generated/workflow-rules.mjs';

interface Props {
  store: Store;
  reference: Reference;
  onOpen: (id: string) => void;
}

/** Height of one row in px, gap included; `.record-item` is this minus the gap. */
const ROW = 140;
/** Rows rendered beyond each edge of the screen, so a quick fling shows no blank rows. */
const OVERSCAN = 8;
const STATUSES = RULES.statuses;

interface Filters {
  kind: string;
  status: string;
  sync: '' | SyncState;
  q: string;
}

// The list works from the store's in-memory summaries and renders only the rows
// on screen (fixed-height rows, absolutely placed), so it stays smooth with
// thousands of records on a slow phone and never loads a document.
export function Records({ store, reference, onOpen }: Props) {
  const version = useStoreVersion(store);
  const [filters, setFilters] = useState<Filters>({ kind: '', status: '', sync: '', q: '' });

  const matches = useMemo(() => {
    const q = filters.q.trim().toLowerCase();
    return store
      .all()
      .filter(
        (s) =>
          (!filters.kind || s.kind === filters.kind) &&
          (!filters.status || s.status === filters.status) &&
          (!filters.sync || s.sync === filters.sync) &&
          (!q || s.title.toLowerCase().includes(q) || s.address.toLowerCase().includes(q)),
      )
      // Latest change first: a record something just happened to comes to the top.
      .sort((a, b) => (b.last?.at ?? b.reported_at) - (a.last?.at ?? a.reported_at));
    // `version` changes whenever the store does.
  }, [store, version, filters]);

  const set = (patch: Partial<Filters>) => {
    setFilters((f) => ({ ...f, ...patch }));
  };

  return (
    <main class="screen" data-testid="records">
      <h1 class="screen-title">{t('records.title')}</h1>
      <div class="filters">
        <input
          type="search"
          class="search"
          placeholder={t('records.search')}
          aria-label={t('records.search')}
          data-testid="search"
          value={filters.q}
          onInput={(e) => set({ q: e.currentTarget.value })}
        />
        <div class="filter-row">
          <select aria-label={t('report.kind')} data-testid="filter-kind" value={filters.kind} onChange={(e) => set({ kind: e.currentTarget.value })}>
            <option value="">{t('records.allKinds')}</option>
            {['need', 'visit', 'event'].map((k) => (
              <option key={k} value={k}>
                {label('kind', k)}
              </option>
            ))}
          </select>
          <select aria-label={t('records.status')} data-testid="filter-status" value={filters.status} onChange={(e) => set({ status: e.currentTarget.value })}>
            <option value="">{t('records.allStatuses')}</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {label('status', s)}
              </option>
            ))}
          </select>
          <select
            aria-label={t('records.sync')}
            data-testid="filter-sync"
            value={filters.sync}
            onChange={(e) => set({ sync: e.currentTarget.value as Filters['sync'] })}
          >
            <option value="">{t('records.allSync')}</option>
            {(['pending', 'synced', 'refused'] as const).map((s) => (
              <option key={s} value={s}>
                {label('sync', s)}
              </option>
            ))}
          </select>
        </div>
      </div>
      <p class="muted" data-testid="records-count">
        {t('records.count', { n: matches.length })}
      </p>
      {matches.length === 0 ? (
        <p class="empty">{t('records.empty')}</p>
      ) : (
        <VirtualList items={matches} reference={reference} onOpen={onOpen} />
      )}
    </main>
  );
}

function VirtualList({ items, reference, onOpen }: { items: Summary[]; reference: Reference; onOpen: (id: string) => void }) {
  const list = useRef<HTMLUListElement>(null);
  const [range, setRange] = useState({ start: 0, end: Math.min(items.length, 2 * OVERSCAN) });
  const count = items.length;

  useLayoutEffect(() => {
    let frame = 0;
    const update = () => {
      frame = 0;
      const top = list.current?.getBoundingClientRect().top ?? 0;
      const start = Math.max(0, Math.floor(-top / ROW) - OVERSCAN);
      const end = Math.min(count, Math.ceil((window.innerHeight - top) / ROW) + OVERSCAN);
      setRange((r) => (r.start === start && r.end === end ? r : { start, end }));
    };
    const schedule = () => {
      frame ||= requestAnimationFrame(update);
    };
    update();
    window.addEventListener('scroll', schedule, { passive: true });
    window.addEventListener('resize', schedule);
    return () => {
      cancelAnimationFrame(frame);
      window.removeEventListener('scroll', schedule);
      window.removeEventListener('resize', schedule);
    };
  }, [count]);

  return (
    <ul class="record-list" ref={list} style={{ height: `${count * ROW}px` }}>
      {items.slice(range.start, range.end).map((s, i) => (
        <li key={s.id} style={{ top: `${(range.start + i) * ROW}px` }}>
          <RecordItem summary={s} reference={reference} onOpen={onOpen} />
        </li>
      ))}
    </ul>
  );
}

function RecordItem({ summary: s, reference, onOpen }: { summary: Summary; reference: Reference; onOpen: (id: string) => void }) {
  return (
    <button type="button" class="record-item" data-testid="record-item" data-id={s.id} data-sync={s.sync} onClick={() => onOpen(s.id)}>
        <span class="record-top">
          <span class={`chip chip-status chip-status-${s.status}`} data-testid="record-status">
            {label('status', s.status)}
          </span>
          {s.urgency === 'urgent' && <span class="chip chip-urgent">{label('urgency', 'urgent')}</span>}
          <span class={`chip chip-sync chip-${s.sync}`}>{label('sync', s.sync)}</span>
        </span>
        <span class="record-title">{s.title || t('records.untitled')}</span>
        <span class="record-meta">
          {label('kind', s.kind)} · {categoryName(reference.categories, s.category)}
        </span>
        <span class="record-meta">
          {s.address && `${s.address} · `}
          {formatTime(s.last?.at ?? s.reported_at)}
        </span>
    </button>
  );
}
