import { useEffect, useMemo, useState } from 'preact/hooks';
import type { CareTag, Resident } from '../api-types';
import { useStoreVersion } from '../hooks';
import { getLang, t } from '../i18n';
import { formatDate } from '../labels';
import type { Reference } from '../reference';
import type { QueuedEdit, Store } from '../store';
import { CARE } from '../generated/protocol.mjs';
import { schedule, type DueItem, type HouseholdData, type VisitFact } from '../household';

/** What the visit screens read from the phone, recomputed after every write or sync. */
export interface Care {
  households: HouseholdData[];
  residents: Map<string, Resident>;
  /** People's fields entered on the phone that the server has not taken yet. */
  edits: Map<string, QueuedEdit>;
  items: DueItem[];
  now: number;
}

export function useCare(store: Store): Care | null {
  const version = useStoreVersion(store);
  const [care, setCare] = useState<Care | null>(null);
  useEffect(() => {
    let cancelled = false;
    void Promise.all([store.households(), store.residents(), store.pendingEdits()]).then(([households, residents, edits]) => {
      if (cancelled) return;
      const visits: VisitFact[] = store
        .all()
        .filter((s) => s.kind === 'visit' && s.household)
        .map((s) => ({ household: s.household, persons: s.persons, reported_at: s.reported_at, status: s.status }));
      const now = Date.now();
      setCare({
        households,
        residents: new Map(residents.map((r) => [r.pid, r])),
        edits: new Map(edits.map((e) => [e.pid, e])),
        items: schedule(residents, households, visits, now),
        now,
      });
    });
    return () => {
      cancelled = true;
    };
  }, [store, version]);
  return care;
}

export function tagName(tags: CareTag[], code: string): string {
  const tag = tags.find((x) => x.code === code);
  if (!tag) return code;
  return getLang() === 'en' ? tag.name_en : tag.name_zh;
}

/** "逾期 3 天" / "今天到期" / "5 天后到期": whole days, as a person counts them. */
export function dueText(item: Pick<DueItem, 'due_at' | 'state'>, now: number): string {
  const days = Math.ceil(Math.abs(item.due_at - now) / CARE.day_ms);
  switch (item.state) {
    case 'overdue':
      return t('due.overdue', { n: Math.max(1, Math.floor((now - item.due_at) / CARE.day_ms)) });
    case 'due':
      return t('due.due');
    case 'soon':
      return t('due.soon', { n: days });
    default:
      return t('due.later', { date: formatDate(item.due_at) });
  }
}

export function DueChip({ item, now }: { item: Pick<DueItem, 'due_at' | 'state'>; now: number }) {
  return (
    <span class={`chip due-${item.state}`} data-testid="due-chip" data-state={item.state}>
      {dueText(item, now)}
    </span>
  );
}

/** The counts on home: how many people are overdue, due today, due within the week. */
export function dueCounts(items: DueItem[]): Record<'overdue' | 'due' | 'soon', number> {
  const counts = { overdue: 0, due: 0, soon: 0 };
  for (const i of items) if (i.state !== 'later') counts[i.state]++;
  return counts;
}

interface Props {
  store: Store;
  reference: Reference;
  onOpenHousehold: (id: string) => void;
  onNewHousehold: () => void;
}

/** The visit list: who is due, earliest first; and every household of the patch. */
export function Visits({ store, reference, onOpenHousehold, onNewHousehold }: Props) {
  const care = useCare(store);
  const [tab, setTab] = useState<'due' | 'all'>('due');
  const [query, setQuery] = useState('');
  const byId = useMemo(() => new Map((care?.households ?? []).map((h) => [h.id, h])), [care]);

  if (!care) {
    return (
      <main class="screen" aria-busy="true">
        <p class="boot">{t('app.loading')}</p>
      </main>
    );
  }
  const due = care.items.filter((i) => i.state !== 'later');
  const q = query.trim().toLowerCase();
  const households = care.households.filter(
    (h) => !q || h.number.toLowerCase().includes(q) || h.address.toLowerCase().includes(q),
  );
  const sectorName = (path?: string) => (path ? (reference.units.find((u) => u.path === path)?.name ?? '') : '');

  return (
    <main class="screen" data-testid="visits">
      <h1 class="screen-title">{t('visits.title')}</h1>
      <div class="segmented" role="tablist">
        {(['due', 'all'] as const).map((k) => (
          <button
            key={k}
            type="button"
            role="tab"
            aria-selected={tab === k}
            class={tab === k ? 'seg seg-on' : 'seg'}
            data-testid={`visits-tab-${k}`}
            onClick={() => setTab(k)}
          >
            {t(k === 'due' ? 'visits.tabDue' : 'visits.tabAll')}
          </button>
        ))}
      </div>

      {tab === 'due' && (
        <ul class="list" data-testid="due-list">
          {due.length === 0 && <li class="muted empty">{care.households.length ? t('visits.none') : t('visits.noHouseholds')}</li>}
          {due.map((i) => {
            const h = byId.get(i.household);
            return (
              <li key={i.resident.pid}>
                <button type="button" class="list-row" data-testid="due-row" onClick={() => onOpenHousehold(i.household)}>
                  <span class="row-main">
                    <span class="row-title">{i.resident.name_masked}</span>
                    <span class="row-sub">
                      {h ? `${h.number} · ${h.address}` : ''}
                    </span>
                    <span class="tags">
                      {i.resident.tags.map((tag) => (
                        <span key={tag} class="tag">
                          {tagName(reference.careTags, tag)}
                        </span>
                      ))}
                    </span>
                  </span>
                  <DueChip item={i} now={care.now} />
                </button>
              </li>
            );
          })}
        </ul>
      )}

      {tab === 'all' && (
        <>
          <input
            class="search"
            type="search"
            placeholder={t('visits.search')}
            aria-label={t('visits.search')}
            data-testid="household-search"
            value={query}
            onInput={(e) => setQuery(e.currentTarget.value)}
          />
          <p class="muted">{t('visits.households', { n: households.length })}</p>
          <button type="button" class="btn btn-light btn-block" data-testid="new-household" onClick={onNewHousehold}>
            {t('householdForm.title')}
          </button>
          <ul class="list" data-testid="household-list">
            {households.map((h) => {
              const next = care.items.find((i) => i.household === h.id);
              return (
                <li key={h.id}>
                  <button type="button" class="list-row" data-testid="household-row" onClick={() => onOpenHousehold(h.id)}>
                    <span class="row-main">
                      <span class="row-title">{h.number}</span>
                      <span class="row-sub">
                        {h.address}
                        {h.sector ? ` · ${sectorName(h.sector)}` : ''}
                      </span>
                    </span>
                    {next && next.state !== 'later' && <DueChip item={next} now={care.now} />}
                  </button>
                </li>
              );
            })}
          </ul>
        </>
      )}
    </main>
  );
}
