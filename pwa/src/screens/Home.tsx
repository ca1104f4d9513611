import { useState } from 'preact/hooks';
import type { User } from '../api';
import { hasKey, t } from '../i18n';

interface Props {
  user: User;
  online: boolean;
  onLogout: () => Promise<void>;
}

function departmentLabel(department: string): string {
  // "/gusu:police" → the part after the colon names the kind of department.
  const kind = department.slice(department.lastIndexOf(':') + 1);
  const key = `dept.${kind}`;
  return hasKey(key) ? t(key) : department;
}

export function Home({ user, online, onLogout }: Props) {
  const [confirmOffline, setConfirmOffline] = useState(false);
  const [busy, setBusy] = useState(false);

  async function logout() {
    if (!online && !confirmOffline) {
      setConfirmOffline(true);
      return;
    }
    setBusy(true);
    await onLogout();
  }

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
            <dt>{t('home.unit')}</dt>
            <dd data-testid="user-unit">{user.unit_name}</dd>
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

      {confirmOffline && !busy && (
        <p class="alert alert-warn" role="alert">
          {t('home.logoutOfflineWarn')}
        </p>
      )}
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
