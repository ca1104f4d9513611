import { useEffect, useState } from 'preact/hooks';
import { ApiError, CancelledError, login, type ServerInfo } from '../api';
import RULES from '../generated/workflow-rules.mjs';
import { ErrorAlert } from '../components/ErrorAlert';
import { useCountdown } from '../hooks';
import { t } from '../i18n';
import { loadLastUsername, type Session } from '../session';

interface Props {
  online: boolean;
  /** Set when the user was sent back here because the session could not be renewed. */
  expired: boolean;
  onLoggedIn: (session: Session) => void;
  /** The server's info: a demo's lists the accounts to try. */
  info: ServerInfo | null;
}

export function Login({ online, expired, onLoggedIn, info }: Props) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [showPassword, setShowPassword] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [retryAt, setRetryAt] = useState<number | null>(null);
  const waiting = useCountdown(retryAt) > 0;

  useEffect(() => {
    // Whoever used this phone last is most likely the one signing in again.
    loadLastUsername()
      .then((name) => {
        if (name) setUsername((current) => current || name);
      })
      .catch(() => undefined);
  }, []);

  const [attempt, setAttempt] = useState<AbortController | null>(null);

  async function submit(e: Event) {
    e.preventDefault();
    if (busy || waiting) return;
    const controller = new AbortController();
    setAttempt(controller);
    setBusy(true);
    setError(null);
    setRetryAt(null);
    try {
      const session = await login(username.trim(), password, controller.signal);
      onLoggedIn(session);
    } catch (err) {
      setAttempt(null);
      if (err instanceof CancelledError) {
        setBusy(false);
        return;
      }
      setError(err);
      if (err instanceof ApiError && err.status === 429) {
        setRetryAt(Date.now() + (err.retryAfter ?? 60) * 1000);
      }
      setBusy(false);
    }
  }

  const passwordProps = {
    id: 'password',
    name: 'password',
    autocomplete: 'current-password',
    required: true,
    value: password,
    onInput: (e: Event) => setPassword((e.currentTarget as HTMLInputElement).value),
  };

  return (
    <main class="screen screen-login">
      <h1 class="screen-title">{t('login.title')}</h1>
      {expired && (
        <p class="alert alert-info" role="status" data-testid="expired">
          {t('login.expired')}
        </p>
      )}
      {!online && (
        <p class="alert alert-warn" role="status">
          {t('login.needOnline')}
        </p>
      )}
      <form class="card form" onSubmit={submit} noValidate>
        <div class="field">
          <label for="username">{t('login.username')}</label>
          <input
            id="username"
            name="username"
            type="text"
            autocomplete="username"
            autocapitalize="none"
            autocorrect="off"
            spellcheck={false}
            required
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="password">{t('login.password')}</label>
          <div class="password-row">
            {/* Two literal branches: the input typings only accept a single literal `type`. */}
            {showPassword ? (
              <input type="text" {...passwordProps} />
            ) : (
              <input type="password" {...passwordProps} />
            )}
            <button
              type="button"
              class="btn btn-light btn-icon"
              aria-pressed={showPassword}
              aria-label={showPassword ? t('login.hidePassword') : t('login.showPassword')}
              onClick={() => setShowPassword(!showPassword)}
            >
              <EyeIcon crossed={showPassword} />
            </button>
          </div>
        </div>
        {error !== null && <ErrorAlert error={error} retryAt={retryAt} />}
        <button
          type="submit"
          class="btn btn-primary btn-block"
          disabled={busy || waiting || !username.trim() || !password}
          data-testid="login-submit"
        >
          {busy ? t('login.submitting') : t('login.submit')}
        </button>
        {busy && attempt && (
          <button type="button" class="btn btn-light btn-block" data-testid="login-cancel" onClick={() => attempt.abort()}>
            {t('login.cancel')}
          </button>
        )}
      </form>
      {info?.demo_accounts && info.demo_password && (
        <DemoAccounts
          accounts={info.demo_accounts}
          password={info.demo_password}
          onPick={(u) => {
            setUsername(u);
            setPassword(info.demo_password ?? '');
          }}
        />
      )}
    </main>
  );
}

type DemoAccount = NonNullable<ServerInfo['demo_accounts']>[number];

/**
 * A fresh demo explains itself: which accounts to try on a phone (the field app) and on a
 * desktop (the console), and what each shows. A tap fills the form in.
 */
function DemoAccounts({ accounts, password, onPick }: { accounts: DemoAccount[]; password: string; onPick: (username: string) => void }) {
  const field = new Set<string>(RULES.field_roles);
  const groups = [
    { key: 'phone', title: t('demo.onPhone'), list: accounts.filter((a) => field.has(a.role)) },
    { key: 'desktop', title: t('demo.onDesktop'), list: accounts.filter((a) => !field.has(a.role)) },
  ] as const;
  return (
    <section class="card demo-accounts" data-testid="demo-accounts">
      <h2 class="section-title">{t('demo.title')}</h2>
      <p>{t('demo.password', { password })}</p>
      {groups.map((g) => (
        <div key={g.key} data-testid={`demo-${g.key}`}>
          <h3 class="section-title">{g.title}</h3>
          <ul class="list">
            {g.list.map((a) => (
              <li key={a.username}>
                <button type="button" class="list-row" data-testid="demo-account" data-username={a.username} onClick={() => onPick(a.username)}>
                  <span class="row-main">
                    <span class="row-title">
                      {a.username} · {a.name} · {t(`role.${a.role}`)}
                    </span>
                    <span class="row-sub row-whole">{t(`demo.shows.${a.role}`)}</span>
                  </span>
                </button>
              </li>
            ))}
          </ul>
        </div>
      ))}
    </section>
  );
}

function EyeIcon({ crossed }: { crossed: boolean }) {
  return (
    <svg width="28" height="28" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true">
      <path d="M1 12s4-7 11-7 11 7 11 7-4 7-11 7S1 12 1 12z" />
      <circle cx="12" cy="12" r="3" />
      {crossed && <path d="M3 3l18 18" />}
    </svg>
  );
}
