import { t } from '../i18n';

export type Tab = 'home' | 'report' | 'records';

const TABS: { tab: Tab; icon: string }[] = [
  { tab: 'home', icon: 'M3 11l9-8 9 8v10h-6v-6H9v6H3z' },
  { tab: 'report', icon: 'M12 5v14M5 12h14' },
  { tab: 'records', icon: 'M4 6h16M4 12h16M4 18h16' },
];

/** `badges`: a count shown on a tab (news on home), so it is seen from every screen. */
export function BottomNav({ current, onSelect, badges = {} }: { current: Tab; onSelect: (tab: Tab) => void; badges?: Partial<Record<Tab, number>> }) {
  return (
    <nav class="bottom-nav" aria-label={t('nav.label')}>
      {TABS.map(({ tab, icon }) => (
        <button
          key={tab}
          type="button"
          class={tab === current ? 'nav-btn nav-current' : 'nav-btn'}
          aria-current={tab === current ? 'page' : undefined}
          data-testid={`nav-${tab}`}
          onClick={() => onSelect(tab)}
        >
          <svg width="28" height="28" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.2" aria-hidden="true">
            <path d={icon} />
          </svg>
          <span>{t(`nav.${tab}`)}</span>
          {(badges[tab] ?? 0) > 0 && (
            <span class="nav-badge" data-testid={`nav-${tab}-badge`} aria-label={t('news.badge', { n: badges[tab] ?? 0 })}>
              {badges[tab]}
            </span>
          )}
        </button>
      ))}
    </nav>
  );
}
