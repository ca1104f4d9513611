import { useEffect, useState } from 'preact/hooks';
import type { User } from '../api';
import { useStoreVersion, useSyncStatus } from '../hooks';
import { hasKey, t } from '../i18n';
import { loadReference, refreshReference, type Reference } from '../reference';
import { getStore, type Store } from '../store';
import { getRates, listCases, listDepartments, listPeople, type Bucket, type CasePage, type Rates } from './api';
import { setDepartments } from './record';
import { ct, type CKey } from './i18n';
import { bucketsFor, Inbox } from './Inbox';
import { Care } from './Care';
import { RecordPane } from './RecordPane';
import { ConsoleSyncer } from './sync';
import './console.css';

interface Props {
  user: User;
  online: boolean;
  onLogout: () => Promise<void>;
}

type Tab = 'overview' | 'inbox' | 'care';

/**
 * The supervisor console: the same PWA and the same per-user store, for supervisors
 * and department handlers. Inboxes are server-side queries; a record is fetched by id
 * when opened, and actions are Automerge changes pushed like any field edit.
 */
export default function Console({ user, online, onLogout }: Props) {
  const [store, setStore] = useState<Store | null>(null);
  const [syncer, setSyncer] = useState<ConsoleSyncer | null>(null);
  const [reference, setReference] = useState<Reference>({ categories: [], units: [], people: [], careTags: [] });
  const [people, setPeople] = useState<User[]>([]);
  const [tab, setTab] = useState<Tab>(() =>
    window.location.hash === '#overview' ? 'overview' : window.location.hash === '#care' ? 'care' : 'inbox',
  );
  const [selected, setSelectedId] = useState<string | null>(null);
  // Each pick from the list fetches the record again, even the one already open.
  const [nonce, setNonce] = useState(0);
  const setSelected = (id: string | null) => {
    setSelectedId(id);
    setNonce((n) => n + 1);
  };

  useEffect(() => {
    let s: ConsoleSyncer | null = null;
    let cancelled = false;
    void navigator.storage?.persist?.().catch(() => false);
    getStore(user.id).then(async (st) => {
      await st.ready();
      if (cancelled) return;
      setStore(st);
      setReference(await loadReference(st));
      s = new ConsoleSyncer(st);
      setSyncer(s);
      s.start();
      // The browser tests drive the console's storage and sync through this handle, as for the field app.
      window.haitang = { store: st, syncer: s };
    });
    return () => {
      cancelled = true;
      s?.stop();
    };
  }, [user.id]);

  useEffect(() => {
    if (!store || !online) return;
    void refreshReference(store).then(setReference);
    // Departments first: the re-render that people cause then shows both.
    listDepartments()
      .then(setDepartments)
      .catch(() => undefined)
      .then(() => listPeople(user))
      .then(setPeople)
      .catch(() => setPeople([]));
  }, [store, online, user]);

  if (!store || !syncer) {
    return (
      <main class="screen" aria-busy="true">
        <p class="boot">{t('app.loading')}</p>
      </main>
    );
  }
  return (
    <ConsoleBody
      user={user}
      online={online}
      onLogout={onLogout}
      store={store}
      syncer={syncer}
      reference={reference}
      people={people}
      tab={tab}
      setTab={setTab}
      selected={selected}
      setSelected={setSelected}
      nonce={nonce}
    />
  );
}

function ConsoleBody({
  user,
  online,
  onLogout,
  store,
  syncer,
  reference,
  people,
  tab,
  setTab,
  selected,
  setSelected,
  nonce,
}: Props & {
  nonce: number;
  store: Store;
  syncer: ConsoleSyncer;
  reference: Reference;
  people: User[];
  tab: Tab;
  setTab: (t: Tab) => void;
  selected: string | null;
  setSelected: (id: string | null) => void;
}) {
  const status = useSyncStatus(syncer);
  useStoreVersion(store);
  // The inbox bucket an overview tile opens (the inbox starts at its first otherwise).
  const [bucket, setBucket] = useState<Bucket | undefined>(undefined);
  const { pending, refused } = store.counts();
  // The inbox asks the server again after each sync, so it shows the actions just pushed.
  const [refresh, setRefresh] = useState(0);
  const [wasRunning, setWasRunning] = useState(false);
  useEffect(() => {
    if (wasRunning && !status.running) setRefresh((n) => n + 1);
    setWasRunning(status.running);
  }, [status.running]);

  return (
    // `home` like the field app's home screen: what a signed-in user lands on.
    <div class="console" data-testid="home" data-console="true" data-role={user.role}>
      <div class="c-bar">
        <div class="c-tabs" role="tablist">
          {tabsFor(user).map((x) => (
            <button
              key={x}
              type="button"
              role="tab"
              aria-selected={tab === x}
              class={tab === x ? 'c-tab c-tab-on' : 'c-tab'}
              data-testid={`tab-${x}`}
              onClick={() => setTab(x)}
            >
              {ct(`console.${x}` as CKey)}
            </button>
          ))}
        </div>
        <span class="c-who" data-testid="console-user">
          {user.name} · <span data-testid="user-role">{roleName(user.role)}</span>
          {user.department && (
            <>
              {' · '}
              <span data-testid="user-department">{departmentLabel(user.department)}</span>
            </>
          )}{' '}
          · {user.unit_name}
        </span>
        <span class="c-sync muted" data-testid="console-sync" data-running={String(status.running)} data-pending={pending}>
          {!online
            ? ct('console.offline')
            : status.running
              ? ct('console.syncing')
              : status.error
                ? ct('console.syncFailed')
                : pending + refused > 0
                  ? ct('console.waiting', { n: pending + refused })
                  : ''}
        </span>
        <button type="button" class="btn btn-light c-small" data-testid="console-sync-now" onClick={() => void syncer.syncNow().catch(() => undefined)}>
          {ct('console.sync')}
        </button>
        <button type="button" class="btn btn-light c-small" data-testid="logout" onClick={() => void onLogout()}>
          {ct('console.logout')}
        </button>
      </div>
      {tab === 'care' && (
        <Care
          reference={reference}
          store={store}
          syncer={syncer}
          refresh={refresh}
          onOpenRecord={(id) => {
            setSelected(id);
            setTab('inbox');
          }}
        />
      )}
      {tab === 'overview' && (
        <Overview
          user={user}
          refresh={refresh}
          onOpenInbox={(b) => {
            setBucket(b);
            setTab('inbox');
          }}
        />
      )}
      {tab === 'inbox' && (
        <div class={selected ? 'c-split c-split-open' : 'c-split'}>
          <Inbox
            key={bucket}
            initialBucket={bucket}
            user={user}
            store={store}
            syncer={syncer}
            reference={reference}
            people={people}
            selected={selected}
            onSelect={setSelected}
            refresh={refresh}
          />
          {selected ? (
            <RecordPane
              key={selected}
              id={selected}
              user={user}
              store={store}
              syncer={syncer}
              reference={reference}
              people={people}
              nonce={nonce}
              onBack={() => setSelected(null)}
            />
          ) : (
            <section class="c-record c-record-empty">
              <p class="muted">{ct('record.pick')}</p>
            </section>
          )}
        </div>
      )}
    </div>
  );
}

/** Department handlers handle cases; they see no residents (`sync::personal::may_see_residents`). */
function tabsFor(user: User): Tab[] {
  return user.role === 'department_handler' ? ['overview', 'inbox'] : ['overview', 'inbox', 'care'];
}

const RATE_KEYS = ['rectification_rate', 'closure_rate', 'on_time_closure_rate', 'rework_rate'] as const;

function Overview({ user, refresh, onOpenInbox }: { user: User; refresh: number; onOpenInbox: (bucket: Bucket) => void }) {
  const [days, setDays] = useState<number | null>(30);
  const [rates, setRates] = useState<Rates | null>(null);
  const [counts, setCounts] = useState<CasePage['counts'] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    const from = days === null ? undefined : Date.now() - days * 86_400_000;
    Promise.all([getRates(from), listCases({ bucket: 'all', limit: 1 })])
      .then(([r, page]) => {
        if (cancelled) return;
        setRates(r);
        setCounts(page.counts);
        setError(null);
      })
      .catch((err: unknown) => !cancelled && setError(err instanceof Error ? err.message : String(err)));
    return () => {
      cancelled = true;
    };
  }, [days, refresh]);

  const pct = (v: number | null) => (v === null ? ct('rates.na') : `${(v * 100).toFixed(1)}%`);
  return (
    <section class="c-overview" data-testid="overview">
      <div class="card">
        <div class="c-overview-head">
          <h2 class="section-title">{ct('rates.title')}</h2>
          <div class="segmented" role="radiogroup" aria-label={ct('rates.period')}>
            {([7, 30, null] as const).map((d) => (
              <button
                key={String(d)}
                type="button"
                role="radio"
                aria-checked={days === d}
                class={days === d ? 'seg seg-on' : 'seg'}
                onClick={() => setDays(d)}
              >
                {d === 7 ? ct('rates.days7') : d === 30 ? ct('rates.days30') : ct('rates.allTime')}
              </button>
            ))}
          </div>
        </div>
        {error && <p class="alert alert-error">{error}</p>}
        {rates && (
          <div class="c-rates" data-testid="rates">
            {(['reported', 'open', 'overdue', 'closed'] as const).map((k) => (
              <div key={k} class="c-rate" data-testid={`rate-${k}`} data-value={rates[k]}>
                <span class="c-rate-value">{rates[k]}</span>
                <span class="c-rate-name">{ct(`rates.${k}`)}</span>
              </div>
            ))}
            {RATE_KEYS.map((k) => (
              <div key={k} class="c-rate" data-testid={`rate-${k}`} data-value={rates[k] ?? ''}>
                <span class="c-rate-value">{pct(rates[k])}</span>
                <span class="c-rate-name">{ct(`rates.${k}`)}</span>
              </div>
            ))}
            <div class="c-rate" data-testid="rate-average_completion_hours">
              <span class="c-rate-value">
                {rates.average_completion_hours === null
                  ? ct('rates.na')
                  : ct('rates.hours', { h: rates.average_completion_hours.toFixed(1) })}
              </span>
              <span class="c-rate-name">{ct('rates.average_completion_hours')}</span>
            </div>
          </div>
        )}
      </div>
      {counts && (
        <div class="card">
          <h2 class="section-title">{ct('rates.buckets')}</h2>
          <div class="c-rates">
            {bucketsFor(user)
              .filter((b): b is Exclude<Bucket, 'all'> => b !== 'all')
              .map((b) => (
                <button key={b} type="button" class="c-rate c-rate-btn" data-testid={`overview-${b}`} onClick={() => onOpenInbox(b)}>
                  <span class="c-rate-value">{counts[b] ?? 0}</span>
                  <span class="c-rate-name">{ct(`bucket.${b}` as CKey)}</span>
                </button>
              ))}
          </div>
        </div>
      )}
    </section>
  );
}

function roleName(role: string): string {
  const key = `role.${role}`;
  return hasKey(key) ? t(key) : role;
}

function departmentLabel(department: string): string {
  const key = `dept.${department.slice(department.lastIndexOf(':') + 1)}`;
  return hasKey(key) ? t(key) : department;
}
