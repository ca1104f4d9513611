import type { Summary } from './store';

/** A step someone else took on a record that concerns this user. */
export interface News {
  summary: Summary;
  action: string;
  by: number;
  at: number;
}

/** What the phone keeps of news read: per record the date of the step last seen, and a floor. */
export interface NewsMarks {
  /** Steps dated before this are not news (set when the store was first opened). */
  since: number;
  read: Record<string, number>;
}

/**
 * The news on home, latest first: records this user reported or was assigned, whose latest
 * workflow step someone else took after what this user last saw of the record. Learned at
 * each sync, from the records themselves: nothing is sent that the record does not say. A
 * record returned to its reporter is left to the louder card on home.
 */
export function newsOf(summaries: Summary[], me: number, marks: NewsMarks): News[] {
  const out: News[] = [];
  for (const s of summaries) {
    const last = s.last;
    if (!last || last.by === me || last.action === 'report') continue;
    if (s.reported_by !== me && s.assignee !== me) continue;
    if (s.status === 'returned' && s.reported_by === me) continue;
    if (last.at <= Math.max(marks.since, marks.read[s.id] ?? 0)) continue;
    out.push({ summary: s, action: last.action, by: last.by, at: last.at });
  }
  return out.sort((a, b) => b.at - a.at);
}
