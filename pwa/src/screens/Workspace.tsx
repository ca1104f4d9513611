import { useEffect, useState } from 'preact/hooks';
import type { User } from '../api';
import { BottomNav, type Tab } from '../components/BottomNav';
import { t } from '../i18n';
import { loadReference, refreshReference, type Reference } from '../reference';
import { getStore, type Store } from '../store';
import { Syncer, type SyncHandle } from '../sync/syncer';
import { startUploads, type Uploader } from '../photos/upload';
import { Detail } from './Detail';
import { Home } from './Home';
import { Records } from './Records';
import { Report } from './Report';

declare global {
  interface Window {
    haitang?: { store: Store; syncer: SyncHandle };
  }
}

export type View = { name: Tab } | { name: 'detail'; id: string; from: Tab };

interface Props {
  user: User;
  online: boolean;
  onLogout: () => Promise<void>;
}

function initialTab(): Tab {
  const hash = window.location.hash.slice(1);
  return hash === 'records' || hash === 'report' ? hash : 'home';
}

/** Everything a signed-in user works with: their store, the syncer and the screens. */
export function Workspace({ user, online, onLogout }: Props) {
  const [store, setStore] = useState<Store | null>(null);
  const [syncer, setSyncer] = useState<Syncer | null>(null);
  const [reference, setReference] = useState<Reference>({ categories: [], units: [], people: [] });
  // `#records` or `#report` opens that tab directly, e.g. from a home-screen shortcut.
  const [view, setView] = useState<View>(() => ({ name: initialTab() }));

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
      syncer = new Syncer(s);
      setSyncer(syncer);
      syncer.start();
      // The browser tests and `npm run perf` drive the app's own storage and sync
      // code through this handle (seeding thousands of records, tampering with one).
      window.haitang = { store: s, syncer };
      // Photos go up apart from the records: after each sync, when the network returns.
      uploader = await startUploads(user.id, syncer);
      if (cancelled) uploader.stop();
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
  const viewKey = view.name === 'detail' ? view.id : view.name;
  useEffect(() => window.scrollTo(0, 0), [viewKey]);

  if (!store || !syncer) {
    return (
      <main class="screen" aria-busy="true">
        <p class="boot">{t('app.loading')}</p>
      </main>
    );
  }
  const open = (id: string) => setView({ name: 'detail', id, from: view.name === 'detail' ? view.from : view.name });
  const tab: Tab = view.name === 'detail' ? view.from : view.name;
  return (
    <>
      {view.name === 'home' && (
        <Home
          user={user}
          online={online}
          store={store}
          syncer={syncer}
          reference={reference}
          onNavigate={(name) => setView({ name })}
          onLogout={onLogout}
        />
      )}
      {view.name === 'report' && (
        <Report user={user} store={store} syncer={syncer} reference={reference} onOpen={open} />
      )}
      {view.name === 'records' && <Records store={store} reference={reference} onOpen={open} />}
      {view.name === 'detail' && (
        <Detail
          key={view.id}
          id={view.id}
          user={user}
          store={store}
          syncer={syncer}
          reference={reference}
          onBack={() => setView({ name: view.from })}
        />
      )}
      <BottomNav current={tab} onSelect={(name) => setView({ name })} />
    </>
  );
}
