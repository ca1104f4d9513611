import type { Category, Unit } from './api';
import { getLang, hasKey, t } from './i18n';

export function categoryName(categories: Category[], code: string): string {
  const c = categories.find((x) => x.code === code);
  if (!c) return code;
  return getLang() === 'en' ? c.name_en : c.name_zh;
}

/** A unit path shown by name when the user's unit list knows it, else by its last segment. */
export function unitName(units: Unit[], path: string | undefined): string {
  if (!path) return '';
  return units.find((u) => u.path === path)?.name ?? path.slice(path.lastIndexOf('/') + 1);
}

/** Translated label for `prefix.value`, or the value itself for codes this version does not know. */
export function label(prefix: 'kind' | 'status' | 'urgency' | 'sync' | 'action' | 'refusal', value: string): string {
  const key = `${prefix}.${value}`;
  return hasKey(key) ? t(key) : value;
}

const formats = new Map<string, Intl.DateTimeFormat>();

export function formatTime(ms: number): string {
  const lang = getLang();
  let format = formats.get(lang);
  if (!format) {
    format = new Intl.DateTimeFormat(lang, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
    formats.set(lang, format);
  }
  return format.format(ms);
}

const dateFormats = new Map<string, Intl.DateTimeFormat>();

/** A day without the time, for due dates and last visits. */
export function formatDate(ms: number): string {
  const lang = getLang();
  let format = dateFormats.get(lang);
  if (!format) {
    format = new Intl.DateTimeFormat(lang, { month: '2-digit', day: '2-digit' });
    dateFormats.set(lang, format);
  }
  return format.format(ms);
}
