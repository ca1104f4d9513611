import { useCallback, useEffect, useState } from 'preact/hooks';
import { getInfo, logout, me, onAuthLost, type ServerInfo } from './api';
import { DemoBanner } from './components/DemoBanner';
import { TopBar } from './components/TopBar';
import { UpdateBar } from './components/UpdateBar';
import { useLang, t } from './i18n';
import { useOnline } from './hooks';
import { Login } from './screens/Login';
import { loadServerInfo, loadSession, type Session } from './session';
import { getStore } from './store';
import { Workspace } from './screens/Workspace';
import type { User } from './api';

/** Supervisors and department handlers get the console; leaders and grid staff the field app. */
export const CONSOLE_ROLES: User['role'][] = [
  'community_supervisor',
  'workstation_supervisor',
  'street_supervisor',
  'district_admin',
  'department_handler',
];

type ConsoleComponent = typeof import('./console/Console').default;
let consoleModule: Promise<ConsoleComponent> | null = null;

/** The console's code loads on first use, so the field app's phones never download it. */
function ConsoleLoader(props: { user: User; online: boolean; onLogout: () => Promise<void> }) {
  const [Console, setConsole] = useState<ConsoleComponent | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    consoleModule ??= import('./console/Console').then((m) => m.default);
    consoleModule.then((c) => setConsole(() => c)).catch(() => {
      consoleModule = null;
      setFailed(true);
    });
  }, []);
  if (!Console) {
    return (
      <main class="screen" aria-busy={!failed}>
        <p class="boot">{failed ? t('error.network') : t('app.loading')}</p>
      </main>
    );
  }
  return <Console {...props} />;
}

/**
 * Which screen is showing. Plain state rather than URLs: the app is opened
 * from the home screen, and everything it shows depends on the stored session.
 */
export type Route =
  | { name: 'boot' }
  | { name: 'login'; expired: boolean }
  | { name: 'home'; session: Session };

export function App() {
  useLang();
  const online = useOnline();
  const [route, setRoute] = useState<Route>({ name: 'boot' });
  const [info, setInfo] = useState<ServerInfo | null>(null);

  useEffect(() => {
    // The stored session decides the first screen, so the app opens offline.
    loadSession()
      .then((session) => setRoute(session ? { name: 'home', session } : { name: 'login', expired: false }))
      .catch(() => setRoute({ name: 'login', expired: false }));
    return onAuthLost(() => setRoute({ name: 'login', expired: true }));
  }, []);

  useEffect(() => {
    // The last known server info tells whether this is a demo even offline.
    let cancelled = false;
    (async () => {
      const cached = await loadServerInfo().catch(() => undefined);
      if (!cancelled && cached) setInfo((current) => current ?? cached);
      if (!online) return;
      const fresh = await getInfo().catch(() => undefined);
      if (!cancelled && fresh) setInfo(fresh);
    })();
    return () => {
      cancelled = true;
    };
  }, [online]);

  const signedInId = route.name === 'home' ? route.session.user.id : null;
  useEffect(() => {
    // Roles and units change on the server; refresh whenever the network is back.
    // This also renews the tokens early, while the user is not waiting on anything.
    if (signedInId === null || !online) return;
    me()
      .then((user) =>
        setRoute((r) =>
          r.name === 'home' && r.session.user.id === user.id ? { name: 'home', session: { ...r.session, user } } : r,
        ),
      )
      .catch(() => undefined); // offline or expired: onAuthLost handles the latter
  }, [signedInId, online]);

  const handleLogout = useCallback(async () => {
    await logout();
    setRoute({ name: 'login', expired: false });
  }, []);

  return (
    <div class="app">
      {info?.demo && <DemoBanner />}
      <TopBar online={online} />
      {route.name === 'boot' && (
        <main class="screen" aria-busy="true">
          <p class="boot">{t('app.loading')}</p>
        </main>
      )}
      {route.name === 'login' && (
        <Login
          online={online}
          expired={route.expired}
          info={info}
          onLoggedIn={(session) => {
            // A new actor id per sign-in (PROTOCOL.md, "Actor ids"), before any edit can use the old one.
            void getStore(session.user.id)
              .then((store) => store.newActor())
              .finally(() => setRoute({ name: 'home', session }));
          }}
        />
      )}
      {route.name === 'home' &&
        (CONSOLE_ROLES.includes(route.session.user.role) ? (
          <ConsoleLoader key={route.session.user.id} user={route.session.user} online={online} onLogout={handleLogout} />
        ) : (
          <Workspace key={route.session.user.id} user={route.session.user} online={online} onLogout={handleLogout} />
        ))}
      <UpdateBar />
    </div>
  );
}
