import { useEffect, useState } from 'preact/hooks';

export type Lang = 'zh-CN' | 'en';

const zh = {
  'app.name': '海棠',
  'app.subtitle': '网格巡查',
  'app.loading': '正在打开…',
  'lang.switch': 'English',
  'lang.switchLabel': 'Switch to English',

  'login.title': '登录',
  'login.username': '用户名',
  'login.password': '密码',
  'login.submit': '登录',
  'login.submitting': '正在登录…',
  'login.needOnline': '当前离线。首次登录需要联网。',
  'login.expired': '登录已过期，请重新登录。本机上的数据已保留。',
  'login.showPassword': '显示密码',
  'login.hidePassword': '隐藏密码',

  'error.bad_credentials': '用户名或密码错误，或账号已停用。',
  'error.rate_limited': '尝试次数过多。',
  'error.retryAfter': '请在 {s} 秒后重试。',
  'error.canRetry': '现在可以重试了。',
  'error.network': '无法连接服务器，请检查网络。',
  'error.unknown': '出错了（{code}）。',

  'home.role': '角色',
  'home.unit': '所属',
  'home.department': '部门',
  'home.username': '账号',
  'home.logout': '退出登录',
  'home.loggingOut': '正在退出…',
  'home.logoutOfflineWarn': '当前离线。退出后需要联网才能再次登录。',
  'home.logoutAnyway': '仍然退出',
  'home.cancel': '取消',

  'status.online': '在线',
  'status.offline': '离线',

  'update.available': '有新版本可用。',
  'update.apply': '立即更新',
  'update.later': '稍后',

  'role.leader': '楼巷院长（三长）',
  'role.grid_staff': '网格员',
  'role.community_supervisor': '社区书记',
  'role.workstation_supervisor': '联动工作站站长',
  'role.street_supervisor': '街道指挥中心',
  'role.district_admin': '区管理员',
  'role.department_handler': '部门处置人员',

  'dept.police': '公安',
  'dept.urban_management': '城管',
  'dept.emergency': '应急',
  'dept.environment': '环保',
  'dept.fire': '消防',
} as const;

export type Key = keyof typeof zh;

const en: Record<Key, string> = {
  'app.name': 'Haitang',
  'app.subtitle': 'Grid patrol',
  'app.loading': 'Opening…',
  'lang.switch': '中文',
  'lang.switchLabel': '切换到中文',

  'login.title': 'Sign in',
  'login.username': 'Username',
  'login.password': 'Password',
  'login.submit': 'Sign in',
  'login.submitting': 'Signing in…',
  'login.needOnline': 'You are offline. The first sign-in needs a network connection.',
  'login.expired': 'Your session has expired. Please sign in again. Data on this phone is kept.',
  'login.showPassword': 'Show password',
  'login.hidePassword': 'Hide password',

  'error.bad_credentials': 'Wrong username or password, or the account is disabled.',
  'error.rate_limited': 'Too many attempts.',
  'error.retryAfter': 'Try again in {s} s.',
  'error.canRetry': 'You can try again now.',
  'error.network': 'Cannot reach the server. Check the network.',
  'error.unknown': 'Something went wrong ({code}).',

  'home.role': 'Role',
  'home.unit': 'Unit',
  'home.department': 'Department',
  'home.username': 'Account',
  'home.logout': 'Sign out',
  'home.loggingOut': 'Signing out…',
  'home.logoutOfflineWarn': 'You are offline. After signing out you need a network connection to sign in again.',
  'home.logoutAnyway': 'Sign out anyway',
  'home.cancel': 'Cancel',

  'status.online': 'Online',
  'status.offline': 'Offline',

  'update.available': 'A new version is available.',
  'update.apply': 'Update now',
  'update.later': 'Later',

  'role.leader': 'Building / lane / courtyard leader',
  'role.grid_staff': 'Grid staff',
  'role.community_supervisor': 'Community supervisor',
  'role.workstation_supervisor': 'Workstation supervisor',
  'role.street_supervisor': 'Street command centre',
  'role.district_admin': 'District administrator',
  'role.department_handler': 'Department handler',

  'dept.police': 'Police',
  'dept.urban_management': 'Urban management',
  'dept.emergency': 'Emergency management',
  'dept.environment': 'Environment',
  'dept.fire': 'Fire service',
};

const DICTS: Record<Lang, Record<Key, string>> = { 'zh-CN': zh, en };
const STORAGE_KEY = 'haitang.lang';

function initialLang(): Lang {
  try {
    return localStorage.getItem(STORAGE_KEY) === 'en' ? 'en' : 'zh-CN';
  } catch {
    // Storage can be blocked (private mode); Chinese is the default anyway.
    return 'zh-CN';
  }
}

let current: Lang = initialLang();
const listeners = new Set<(lang: Lang) => void>();
document.documentElement.lang = current;

export function getLang(): Lang {
  return current;
}

export function setLang(lang: Lang): void {
  if (lang === current) return;
  current = lang;
  document.documentElement.lang = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // Not persisting is acceptable; the choice still applies to this visit.
  }
  for (const fn of listeners) fn(lang);
}

export function t(key: Key, params?: Record<string, string | number>): string {
  // Falls back to the key so unexpected server values (a new role) still show something.
  const text: string = DICTS[current][key] ?? key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}

export function hasKey(key: string): key is Key {
  return key in zh;
}

/** Re-renders the calling component when the language changes. */
export function useLang(): Lang {
  const [lang, setState] = useState(current);
  useEffect(() => {
    listeners.add(setState);
    return () => {
      listeners.delete(setState);
    };
  }, []);
  return lang;
}
