import { useEffect, useState } from 'preact/hooks';
import type { User } from '../api';
import { BottomNav, type Tab } from '../components/BottomNav';
import { useStoreVersion } from '../hooks';
import { t } from '../i18n';
import { loadReference, refreshReference, type Reference } from '../reference';
import { getStore, type Store } from '../store';
import { Syncer, type SyncHandle } from '../sync/syncer';
import { startUploads, type Uploader } from '../photos/upload';
import { Detail } from './Detail';
import { Home } from './Home';
import { Household, type ReportPrefill } from './Household';
import { HouseholdForm } from './HouseholdForm';
import { Records } from './Records';
import { Report } from './Report';
import { Visits } from './Visits';
import { LeaveDialog } from '../components/LeaveDialog';
import { hasUnsaved } from '../unsaved';
import { getPhotos } from '../photos/db';
import { LOOSE_PHOTO_MAX_AGE_MS } from '../drafts';

declare global {
  interface Window {
    haitang?: { store: Store; syncer: SyncHandle };
  }
}

/** A screen; those opened from another keep it, so that 返回 goes back where the user was. */
export type View =
  // `prefill`: the report form opened from a household; `draft`: resuming a draft.
  | { name: Tab; prefill?: ReportPrefill; draft?: string }
  | { name: 'visits' }
  | { name: 'household-new' }
  | { name: 'household' | 'detail'; id: string; back: View };

/** The bottom bar's tab a screen belongs to. */
function tabOf(view: View): Tab {
  if (view.name === 'household' || view.name === 'detail') return tabOf(view.back);
  return view.name === 'visits' || view.name === 'household-new' ? 'home' : view.name;
}

interface Props {
  user: User;
  online: boolean;
  onLogout: () => Promise<void>;
}

/** `#records`, `#report` or `#visits` opens that screen directly (a home-screen shortcut). */
function initialView(): View {
  const hash = window.location.hash.slice(1);
  if (hash === 'visits') return { name: 'visits' };
  return { name: hash === 'records' || hash === 'report' ? hash : 'home' };
}

/** Everything a signed-in user works with: their store, the syncer and the screens. */
export function Workspace({ user, online, onLogout }: Props) {
  const [store, setStore] = useState<Store | null>(null);
  const [syncer, setSyncer] = useState<Syncer | null>(null);
  const [reference, setReference] = useState<Reference>({ categories: [], units: [], people: [], careTags: [] });
  const [view, setView] = useState<View>(initialView);
  const [leaving, setLeaving] = useState<View | null>(null);

  useEffect(() => {
    let syncer: Syncer | null = null;
    let uploader: Uploader | null = null;
    let cancelled = false;
    // Without this the browser may clear IndexedDB under storage pressure,
    // taking records that never reached the server with it.
    void navigator.storage?.persist?.().catch(() => false);
    getStore(user.id).then(async (s) => {
      await s.ready();
      if (cancelled) return;
      setStore(s);
      setReference(await loadReference(s));
      syncer = new Syncer(s, undefined, user.role === 'leader' || user.role === 'grid_staff');
      setSyncer(syncer);
      syncer.start();
      // The browser tests and `npm run perf` drive the app's own storage and sync
      // code through this handle (seeding thousands of records, tampering with one).
      window.haitang = { store: s, syncer };
      // Photos go up apart from the records: after each sync, when the network returns.
      uploader = await startUploads(user.id, syncer);
      if (cancelled) uploader.stop();
      // Photos of forms left long ago, neither saved nor kept in a draft.
      void getPhotos(user.id)
        .then((p) => p.dropStaleDrafts(LOOSE_PHOTO_MAX_AGE_MS, s.draftPhotos()))
        .catch(() => undefined);
    });
    return () => {
      cancelled = true;
      syncer?.stop();
      uploader?.stop();
    };
  }, [user.id]);

  useEffect(() => {
    if (store && online) void refreshReference(store).then(setReference);
  }, [store, online]);

  // Each screen starts at its top, not where the previous one was scrolled to.
  const viewKey = view.name === 'detail' || view.name === 'household' ? view.id : view.name;
  useEffect(() => window.scrollTo(0, 0), [viewKey]);

  if (!store || !syncer) {
    return (
      <main class="screen" aria-busy="true">
        <p class="boot">{t('app.loading')}</p>
      </main>
    );
  }
  // Leaving a form with unsaved input asks first (a report form is kept as a draft, so
  // leaving it loses nothing, and the question says so).
  const go = (next: View) => {
    if (hasUnsaved()) setLeaving(next);
    else setView(next);
  };
  const open = (id: string) => go({ name: 'detail', id, back: view.name === 'detail' ? view.back : view });
  const openHousehold = (id: string) => go({ name: 'household', id, back: view });
  const tab = tabOf(view);
  // What every screen that reads or writes the user's records is given.
  const shared = { user, store, syncer, reference };
  return (
    <>
      {view.name === 'home' && (
        <Home
          user={user}
          online={online}
          store={store}
          syncer={syncer}
          reference={reference}
          onNavigate={(name) => go({ name })}
          onVisits={() => go({ name: 'visits' })}
          onOpen={open}
          onResume={(draft) => go({ name: 'report', draft })}
          onLogout={onLogout}
        />
      )}
      {view.name === 'report' && (
        <Report
          key={view.draft ?? (view.prefill ? `${view.prefill.kind}:${view.prefill.household}:${view.prefill.raisedFrom ?? ''}` : 'blank')}
          {...shared}
          prefill={view.prefill}
          resume={view.draft ? store.draft(view.draft) : undefined}
          onOpen={open}
          onRaiseNeed={(prefill) => go({ name: 'report', prefill })}
        />
      )}
      {view.name === 'visits' && (
        <Visits
          store={store}
          reference={reference}
          onOpenHousehold={openHousehold}
          onNewHousehold={() => go({ name: 'household-new' })}
        />
      )}
      {view.name === 'household-new' && (
        <HouseholdForm
          {...shared}
          onDone={(id) => setView(id ? { name: 'household', id, back: { name: 'visits' } } : { name: 'visits' })}
        />
      )}
      {view.name === 'household' && (
        <Household
          key={view.id}
          id={view.id}
          {...shared}
          onBack={() => go(view.back)}
          onReport={(prefill) => go({ name: 'report', prefill })}
          onOpenRecord={open}
        />
      )}
      {view.name === 'records' && <Records store={store} reference={reference} onOpen={open} />}
      {view.name === 'detail' && (
        <Detail
          key={view.id}
          id={view.id}
          {...shared}
          onBack={() => go(view.back)}
          onOpen={open}
        />
      )}
      <Nav store={store} current={tab} onSelect={(name) => go({ name })} />
      {leaving && (
        <LeaveDialog
          draft={view.name === 'report'}
          onStay={() => setLeaving(null)}
          onLeave={() => {
            setView(leaving);
            setLeaving(null);
          }}
        />
      )}
    </>
  );
}

/** The bottom bar, with the count of news on home, current after every sync. */
function Nav({ store, current, onSelect }: { store: Store; current: Tab; onSelect: (tab: Tab) => void }) {
  useStoreVersion(store);
  return <BottomNav current={current} onSelect={onSelect} badges={{ home: store.news().length }} />;
}
