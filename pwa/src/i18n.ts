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

  'nav.label': '主导航',
  'nav.home': '首页',
  'nav.report': '上报',
  'nav.records': '我的记录',
  'home.area': '我的片区',
  'home.waiting': '条待同步',
  'home.refused': '条被退回',
  'sync.running': '正在同步…已发送 {pushed} 条，已接收 {pulled} 条',
  'sync.error.network': '网络不通，稍后自动重试。',
  'sync.error.auth': '登录已过期，请重新登录后同步。',
  'sync.error.server': '服务器出错，稍后自动重试。',
  'sync.last': '上次同步：{time}',
  'sync.never': '尚未同步',
  'sync.syncing': '正在同步…',
  'sync.now': '同步',
  'sync.offline': '离线，联网后自动同步',
  'sync.pending': '待同步',
  'sync.synced': '已同步',
  'sync.refused': '被退回',
  'update.afterSave': '有新版本。请先保存正在填写的内容，再更新。',
  'report.title': '上报',
  'report.saved': '已保存在手机上，联网后自动同步。',
  'report.view': '查看这条记录',
  'report.kind': '类型',
  'report.category': '类别',
  'report.subcategory': '小类',
  'report.choose': '请选择',
  'report.noCatalogue': '类别未下载，请联网打开一次',
  'report.titleField': '标题',
  'report.description': '情况描述',
  'report.address': '地址',
  'report.household': '住户（门牌、姓名等）',
  'report.urgency': '紧急程度',
  'report.location': '位置',
  'report.locationValue': '{lat}, {lng}（精度约 {acc} 米）',
  'report.locationUnavailable': '此设备不能定位。',
  'report.locationFailed': '定位失败，可以不填位置。',
  'report.locating': '正在定位…',
  'report.relocate': '重新定位',
  'report.locate': '获取当前位置',
  'report.clearLocation': '清除位置',
  'report.grid': '网格',
  'report.sector': '楼 / 巷 / 院',
  'report.noSector': '不指定',
  'report.noUnits': '还没有下载片区信息，请联网后再试。',
  'report.required': '请选择类别并填写标题。',
  'report.saveFailed': '保存失败：{reason}',
  'report.saving': '正在保存…',
  'report.save': '保存',
  'kind.need': '民情诉求',
  'kind.visit': '走访',
  'kind.event': '巡查事件',
  'urgency.normal': '一般',
  'urgency.urgent': '紧急',
  'status.reported': '已上报',
  'status.accepted': '已受理',
  'status.dispatched': '已派遣',
  'status.in_progress': '处置中',
  'status.resolved': '已处置',
  'status.closed': '已结案',
  'status.returned': '已退回',
  'status.withdrawn': '已撤回',
  'records.title': '我的记录',
  'records.search': '搜索标题或地址',
  'records.allKinds': '全部类型',
  'records.status': '状态',
  'records.allStatuses': '全部状态',
  'records.sync': '同步',
  'records.allSync': '全部',
  'records.count': '共 {n} 条',
  'records.empty': '没有符合条件的记录。',
  'records.untitled': '（无标题）',
  'detail.missing': '这条记录不在本机上（可能已移出您的片区）。',
  'detail.back': '返回',
  'detail.refused': '服务器拒收了这条记录的修改',
  'detail.copy': '复制内容',
  'detail.copied': '已复制',
  'detail.reset': '恢复为服务器版本',
  'detail.resetQueued': '等待恢复…',
  'detail.resetUnavailable': '服务器上还没有这条记录，无法恢复。请复制内容后重新上报。',
  'detail.reporter': '上报人',
  'detail.reportedAt': '上报时间',
  'detail.none': '（无）',
  'detail.edit': '修改',
  'detail.notes': '备注',
  'detail.noNotes': '暂无备注',
  'detail.notePlaceholder': '写一条备注…',
  'detail.addNote': '添加备注',
  'detail.kept': '被拒收内容的副本',
  'detail.timeline': '处置进程',
  'detail.history': '修改记录',
  'refusal.invalid_document': '记录内容不符合要求。修改后会重新提交。',
  'refusal.out_of_scope': '这条记录不在您的管辖范围内。',
  'refusal.forbidden': '您的角色不能做这项修改。',
  'refusal.other': '请把内容复制保存，并联系管理员。',
  'history.report': '上报',
  'history.note': '添加备注',
  'history.edit': '修改内容',
  'history.user': '用户 {id}',
  'history.other': '其他人',
  'history.change': '修改',
  'action.report': '上报',
  'action.accept': '受理',
  'action.dispatch': '派遣',
  'action.start': '开始处置',
  'action.resolve': '处置完成',
  'action.close': '结案',
  'action.return': '退回',
  'action.withdraw': '撤回',
  'action.verify': '核查',
  'action.escalate': '上报升级',
  'action.urge': '督办',
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

  'nav.label': 'Main',
  'nav.home': 'Home',
  'nav.report': 'Report',
  'nav.records': 'My records',
  'home.area': 'My area',
  'home.waiting': 'waiting to sync',
  'home.refused': 'refused',
  'sync.running': 'Syncing… {pushed} sent, {pulled} received',
  'sync.error.network': 'No connection. Retrying automatically.',
  'sync.error.auth': 'Your session expired. Sign in again to sync.',
  'sync.error.server': 'Server error. Retrying automatically.',
  'sync.last': 'Last sync: {time}',
  'sync.never': 'Not synced yet',
  'sync.syncing': 'Syncing…',
  'sync.now': 'Sync now',
  'sync.offline': 'Offline: syncs when back online',
  'sync.pending': 'Waiting',
  'sync.synced': 'Synced',
  'sync.refused': 'Refused',
  'update.afterSave': 'A new version is available. Save what you are writing first, then update.',
  'report.title': 'Report',
  'report.saved': 'Saved on this phone. It syncs when online.',
  'report.view': 'View this record',
  'report.kind': 'Type',
  'report.category': 'Category',
  'report.subcategory': 'Subcategory',
  'report.choose': 'Choose…',
  'report.noCatalogue': 'Categories not downloaded yet: open once online',
  'report.titleField': 'Title',
  'report.description': 'Description',
  'report.address': 'Address',
  'report.household': 'Household (door number, name…)',
  'report.urgency': 'Urgency',
  'report.location': 'Location',
  'report.locationValue': '{lat}, {lng} (within about {acc} m)',
  'report.locationUnavailable': 'This device cannot locate itself.',
  'report.locationFailed': 'Could not get a location; you can leave it out.',
  'report.locating': 'Locating…',
  'report.relocate': 'Locate again',
  'report.locate': 'Use my location',
  'report.clearLocation': 'Clear location',
  'report.grid': 'Grid',
  'report.sector': 'Building / lane / courtyard',
  'report.noSector': 'None',
  'report.noUnits': 'Your area is not downloaded yet. Try again online.',
  'report.required': 'Choose a category and enter a title.',
  'report.saveFailed': 'Could not save: {reason}',
  'report.saving': 'Saving…',
  'report.save': 'Save',
  'kind.need': 'Resident need',
  'kind.visit': 'Visit',
  'kind.event': 'Patrol event',
  'urgency.normal': 'Normal',
  'urgency.urgent': 'Urgent',
  'status.reported': 'Reported',
  'status.accepted': 'Accepted',
  'status.dispatched': 'Dispatched',
  'status.in_progress': 'In progress',
  'status.resolved': 'Resolved',
  'status.closed': 'Closed',
  'status.returned': 'Returned',
  'status.withdrawn': 'Withdrawn',
  'records.title': 'My records',
  'records.search': 'Search title or address',
  'records.allKinds': 'All types',
  'records.status': 'Status',
  'records.allStatuses': 'All statuses',
  'records.sync': 'Sync',
  'records.allSync': 'All',
  'records.count': '{n} records',
  'records.empty': 'No matching records.',
  'records.untitled': '(no title)',
  'detail.missing': 'This record is not on this phone (it may have left your area).',
  'detail.back': 'Back',
  'detail.refused': 'The server refused changes to this record',
  'detail.copy': 'Copy text',
  'detail.copied': 'Copied',
  'detail.reset': "Reset to the server's version",
  'detail.resetQueued': 'Reset pending…',
  'detail.resetUnavailable': 'The server has no version of this record to reset to. Copy the text and report it again.',
  'detail.reporter': 'Reported by',
  'detail.reportedAt': 'Reported at',
  'detail.none': '(none)',
  'detail.edit': 'Edit',
  'detail.notes': 'Notes',
  'detail.noNotes': 'No notes yet',
  'detail.notePlaceholder': 'Write a note…',
  'detail.addNote': 'Add note',
  'detail.kept': 'Copy of the refused text',
  'detail.timeline': 'Timeline',
  'detail.history': 'History',
  'refusal.invalid_document': 'The record does not meet the rules. It is sent again after you edit it.',
  'refusal.out_of_scope': 'This record is outside your area.',
  'refusal.forbidden': 'Your role may not make this change.',
  'refusal.other': 'Copy the text to keep it and contact an administrator.',
  'history.report': 'Reported',
  'history.note': 'Note added',
  'history.edit': 'Text edited',
  'history.user': 'User {id}',
  'history.other': 'Someone else',
  'history.change': 'Change',
  'action.report': 'Reported',
  'action.accept': 'Accepted',
  'action.dispatch': 'Dispatched',
  'action.start': 'Work started',
  'action.resolve': 'Resolved',
  'action.close': 'Closed',
  'action.return': 'Returned',
  'action.withdraw': 'Withdrawn',
  'action.verify': 'Verified',
  'action.escalate': 'Escalated',
  'action.urge': 'Urged',
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
