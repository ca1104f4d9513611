import { useEffect, useState } from 'preact/hooks';
import type { User } from '../api';
import type { Tab } from '../components/BottomNav';
import { useStoreVersion, useSyncStatus } from '../hooks';
import { hasKey, t } from '../i18n';
import { formatTime } from '../labels';
import type { Reference } from '../reference';
import type { Store } from '../store';
import type { SyncHandle } from '../sync/syncer';
import { coverage } from '../household';
import { dueCounts, useCare } from './Visits';
import { getPhotos } from '../photos/db';
import { TEXT_SIZES, setTextSize, useTextSize } from '../textsize';
import { categoryName, label } from '../labels';
import { personName } from '../reference';

interface Props {
  user: User;
  online: boolean;
  store: Store;
  syncer: SyncHandle;
  reference: Reference;
  onNavigate: (tab: Tab) => void;
  onVisits: () => void;
  onOpen: (id: string) => void;
  /** Resumes a draft of the report form. */
  onResume: (draft: string) => void;
  onLogout: () => Promise<void>;
}

function departmentLabel(department: string): string {
  // "/gusu:police" → the part after the colon names the kind of department.
  const kind = department.slice(department.lastIndexOf(':') + 1);
  const key = `dept.${kind}`;
  return hasKey(key) ? t(key) : department;
}

/** The grid and sector names the user files records under, e.g. "金筑社区第一网格 · 金筑苑3幢". */
function areaName(user: User, reference: Reference): string {
  const mine = reference.units.filter((u) => user.unit === u.path || user.unit.startsWith(`${u.path}/`));
  return mine.length ? mine.map((u) => u.name).join(' · ') : user.unit_name;
}

export function Home({ user, online, store, syncer, reference, onNavigate, onVisits, onOpen, onResume, onLogout }: Props) {
  const [confirmOffline, setConfirmOffline] = useState(false);
  const [busy, setBusy] = useState(false);
  const version = useStoreVersion(store);
  const status = useSyncStatus(syncer);
  const [lastSync, setLastSync] = useState<number | undefined>(undefined);
  const { pending, refused } = store.counts();

  useEffect(() => {
    void store.meta<number>('last-sync').then(setLastSync);
  }, [store, version, status.running]);

  async function logout() {
    if (!online && !confirmOffline) {
      setConfirmOffline(true);
      return;
    }
    setBusy(true);
    await onLogout();
  }

  let syncLine: string | null = null;
  if (status.running) syncLine = t('sync.running', { pushed: status.pushed, pulled: status.pulled });
  else if (status.error) syncLine = t(`sync.error.${status.error}`);
  else if (lastSync === undefined) syncLine = t('sync.never');

  return (
    <main class="screen screen-home" data-testid="home">
      <section class="card profile">
        <div class="avatar" aria-hidden="true">
          {Array.from(user.name)[0] ?? '?'}
        </div>
        <h1 class="profile-name" data-testid="user-name">
          {user.name}
        </h1>
        <dl class="facts">
          <div>
            <dt>{t('home.role')}</dt>
            <dd data-testid="user-role">{t(`role.${user.role}`)}</dd>
          </div>
          <div>
            <dt>{t('home.area')}</dt>
            <dd data-testid="user-unit">{areaName(user, reference)}</dd>
          </div>
          {user.department && (
            <div>
              <dt>{t('home.department')}</dt>
              <dd data-testid="user-department">{departmentLabel(user.department)}</dd>
            </div>
          )}
          <div>
            <dt>{t('home.username')}</dt>
            <dd>{user.username}</dd>
          </div>
        </dl>
      </section>

      <section class="card sync-card" aria-live="polite">
        <div class="sync-counts">
          <div class="sync-count">
            <span class="sync-num" data-testid="pending-count">
              {pending + refused}
            </span>
            <span>{t('home.waiting')}</span>
          </div>
          {refused > 0 && (
            <div class="sync-count sync-refused">
              <span class="sync-num" data-testid="refused-count">
                {refused}
              </span>
              <span>{t('home.refused')}</span>
            </div>
          )}
        </div>
        {syncLine && (
          <p class="sync-line" data-testid="sync-line">
            {syncLine}
          </p>
        )}
        {lastSync !== undefined && (
          <p class="muted" data-testid="last-sync" data-time={lastSync}>
            {t('sync.last', { time: formatTime(lastSync) })}
          </p>
        )}
        <button
          type="button"
          class="btn btn-primary btn-block"
          disabled={status.running || !online}
          data-testid="sync-now"
          onClick={() => void syncer.syncNow()}
        >
          {status.running ? t('sync.syncing') : online ? t('sync.now') : t('sync.offline')}
        </button>
      </section>

      <ReturnedCard user={user} store={store} onOpen={onOpen} />

      <NewsCard user={user} store={store} reference={reference} onOpen={onOpen} />

      <DraftsCard user={user} store={store} reference={reference} onResume={onResume} />

      {(user.role === 'leader' || user.role === 'grid_staff') && <VisitsCard store={store} onOpen={onVisits} />}

      <div class="big-actions">
        <button type="button" class="btn btn-big btn-primary" data-testid="go-report" onClick={() => onNavigate('report')}>
          {t('nav.report')}
        </button>
        <button type="button" class="btn btn-big btn-light" data-testid="go-records" onClick={() => onNavigate('records')}>
          {t('nav.records')}
        </button>
      </div>

      {confirmOffline && !busy && (
        <p class="alert alert-warn" role="alert">
          {t('home.logoutOfflineWarn')}
        </p>
      )}
      <TextSizeCard />

      <div class="actions">
        {confirmOffline && !busy && (
          <button type="button" class="btn btn-light btn-block" onClick={() => setConfirmOffline(false)}>
            {t('home.cancel')}
          </button>
        )}
        <button
          type="button"
          class="btn btn-danger btn-block"
          disabled={busy}
          data-testid="logout"
          onClick={logout}
        >
          {busy ? t('home.loggingOut') : confirmOffline ? t('home.logoutAnyway') : t('home.logout')}
        </button>
      </div>
    </main>
  );
}

/** The field worker's week at a glance: who is overdue or due, and this month's coverage. */
function VisitsCard({ store, onOpen }: { store: Store; onOpen: () => void }) {
  const care = useCare(store);
  if (!care || care.households.length === 0) return null;
  const counts = dueCounts(care.items);
  const cover = coverage(care.items, care.now);
  return (
    <section class="card visits-card" data-testid="visits-card">
      <h2>{t('visits.title')}</h2>
      <div class="sync-counts">
        <div class="sync-count visit-overdue">
          <span class="sync-num" data-testid="visits-overdue">
            {counts.overdue}
          </span>
          <span>{t('visits.overdue')}</span>
        </div>
        <div class="sync-count">
          <span class="sync-num" data-testid="visits-due">
            {counts.due}
          </span>
          <span>{t('visits.dueToday')}</span>
        </div>
        <div class="sync-count">
          <span class="sync-num" data-testid="visits-soon">
            {counts.soon}
          </span>
          <span>{t('visits.soon')}</span>
        </div>
      </div>
      <p class="muted" data-testid="visits-coverage">
        {t('visits.coverage', cover)}
      </p>
      <button type="button" class="btn btn-primary btn-block" data-testid="go-visits" onClick={onOpen}>
        {t('visits.open')}
      </button>
    </section>
  );
}

/**
 * Records a supervisor returned to this user for correction: the loud one on home, apart
 * from a sync the server refused (同步失败), which is about the phone, not the work.
 */
function ReturnedCard({ user, store, onOpen }: { user: User; store: Store; onOpen: (id: string) => void }) {
  useStoreVersion(store);
  const returned = store
    .all()
    .filter((s) => s.status === 'returned' && s.reported_by === user.id)
    .sort((a, b) => b.reported_at - a.reported_at);
  if (returned.length === 0) return null;
  return (
    <section class="card alert alert-error" role="alert" data-testid="returned-card" data-count={returned.length}>
      <h2 class="section-title">{t('home.returned', { n: returned.length })}</h2>
      <p>{t('home.returnedHint')}</p>
      <ul class="list">
        {returned.map((s) => (
          <li key={s.id}>
            <button type="button" class="list-row" data-testid="returned-row" onClick={() => onOpen(s.id)}>
              <span class="row-main">
                <span class="row-title">{s.title || t('records.untitled')}</span>
                <span class="row-sub">{s.address}</span>
              </span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

/**
 * Report forms the user started and did not save: kept as they typed, resumed or
 * discarded on purpose (discarding takes a second tap, like withdrawing).
 */
function DraftsCard({ user, store, reference, onResume }: { user: User; store: Store; reference: Reference; onResume: (id: string) => void }) {
  useStoreVersion(store);
  const [asking, setAsking] = useState<string | null>(null);
  const drafts = store.drafts();
  if (drafts.length === 0) return null;
  async function discard(id: string, photos: string[]) {
    setAsking(null);
    await store.discardDraft(id);
    await (await getPhotos(user.id)).discardDrafts(photos);
  }
  return (
    <section class="card drafts-card" data-testid="drafts-card" data-count={drafts.length}>
      <h2 class="section-title">{t('drafts.title', { n: drafts.length })}</h2>
      <ul class="list">
        {drafts.map((d) => {
          const f = d.form;
          const what = f.title.trim() || (f.category ? categoryName(reference.categories, f.category) : '') || t('drafts.untitled');
          return (
            <li key={d.id} class="draft-row" data-testid="draft-row">
              <button type="button" class="list-row" data-testid="draft-resume" onClick={() => onResume(d.id)}>
                <span class="row-main">
                  <span class="row-title">{what}</span>
                  <span class="row-sub">
                    {t(`kind.${f.kind}`)} · {t('drafts.updated', { time: formatTime(d.updated) })}
                    {d.photos.length > 0 && ` · ${t('drafts.photos', { n: d.photos.length })}`}
                  </span>
                </span>
              </button>
              {asking === d.id ? (
                <div class="row" role="group">
                  <button type="button" class="btn btn-light" data-testid="draft-keep" onClick={() => setAsking(null)}>
                    {t('drafts.keep')}
                  </button>
                  <button type="button" class="btn btn-danger" data-testid="draft-discard-confirm" onClick={() => void discard(d.id, d.photos)}>
                    {t('drafts.discardConfirm')}
                  </button>
                </div>
              ) : (
                <button type="button" class="btn btn-light" data-testid="draft-discard" onClick={() => setAsking(d.id)}>
                  {t('drafts.discard')}
                </button>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

/** The most news home lists; the rest wait behind "all read" or the record list. */
const NEWS_SHOWN = 20;

/**
 * What others did on this user's records since they last looked: accepted, dispatched,
 * assigned to them, verified, closed, urged. Each line names who did what to which record;
 * the record's status is the badge, its sync state comes second.
 */
function NewsCard({ user, store, reference, onOpen }: { user: User; store: Store; reference: Reference; onOpen: (id: string) => void }) {
  useStoreVersion(store);
  const news = store.news();
  if (news.length === 0) return null;
  const name = (id: number) => personName(reference, user, id);
  return (
    <section class="card news-card" data-testid="news-card" data-count={news.length} aria-live="polite">
      <h2 class="section-title">{t('news.title', { n: news.length })}</h2>
      <ul class="list">
        {news.slice(0, NEWS_SHOWN).map((n) => {
          const key = `history.did.${n.action}`;
          const what = hasKey(key) ? t(key) : t('history.didOther', { action: label('action', n.action) });
          const s = n.summary;
          return (
            <li key={s.id}>
              <button
                type="button"
                class="list-row news-row"
                data-testid="news-row"
                data-id={s.id}
                data-action={n.action}
                onClick={() => {
                  void store.markNewsRead([s.id]);
                  onOpen(s.id);
                }}
              >
                <span class="row-main">
                  <span class="news-top">
                    <span class={`chip chip-status chip-status-${s.status}`} data-testid="news-status">
                      {label('status', s.status)}
                    </span>
                    {s.urged && <span class="chip chip-urgent">{label('action', 'urge')}</span>}
                    {s.sync !== 'synced' && <span class={`chip chip-sync chip-${s.sync}`}>{label('sync', s.sync)}</span>}
                  </span>
                  <span class="row-title">{s.title || t('records.untitled')}</span>
                  <span class="row-sub row-whole" data-testid="news-line">
                    {t('history.sentence', { who: name(n.by), what })} · {formatTime(n.at)}
                  </span>
                </span>
              </button>
            </li>
          );
        })}
      </ul>
      <button type="button" class="btn btn-light btn-block" data-testid="news-read-all" onClick={() => void store.markNewsRead(news.map((n) => n.summary.id))}>
        {t('news.readAll')}
      </button>
    </section>
  );
}

/** Text size for older eyes: the whole app, console included, follows it. */
function TextSizeCard() {
  const size = useTextSize();
  return (
    <section class="card" data-testid="text-size">
      <h2 class="section-title" id="text-size-title">
        {t('textSize.title')}
      </h2>
      <div class="segmented" role="radiogroup" aria-labelledby="text-size-title">
        {TEXT_SIZES.map((s) => (
          <button
            key={s}
            type="button"
            role="radio"
            aria-checked={size === s}
            class={size === s ? 'seg seg-on' : 'seg'}
            data-testid={`text-size-${s}`}
            onClick={() => setTextSize(s)}
          >
            {t(`textSize.${s}`)}
          </button>
        ))}
      </div>
    </section>
  );
}
