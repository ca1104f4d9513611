import { getLang, setLang, t } from '../i18n';

export function TopBar({ online }: { online: boolean }) {
  const other = getLang() === 'en' ? 'zh-CN' : 'en';
  return (
    <header class="topbar">
      <img class="topbar-logo" src="/icon-192.png" alt="" width={40} height={40} />
      <div class="topbar-title">
        <span class="topbar-name">{t('app.name')}</span>
        <span class="topbar-sub">{t('app.subtitle')}</span>
      </div>
      <OnlineStatus online={online} />
      <button
        type="button"
        class="lang-btn"
        lang={other}
        aria-label={t('lang.switchLabel')}
        data-testid="lang-switch"
        onClick={() => setLang(other)}
      >
        {t('lang.switch')}
      </button>
    </header>
  );
}

function OnlineStatus({ online }: { online: boolean }) {
  return (
    <span
      class={online ? 'net net-online' : 'net net-offline'}
      role="status"
      data-testid="net-status"
      data-online={String(online)}
    >
      <span class="net-dot" aria-hidden="true" />
      {online ? t('status.online') : t('status.offline')}
    </span>
  );
}
