import type { Doc } from '@automerge/automerge/slim';
import type { automerge } from '../automerge';
import RULES from '../generated/workflow-rules.mjs';
import { getLang, hasKey, t } from '../i18n';

type Am = Awaited<ReturnType<typeof automerge>>;

/** One change of a record, as both apps show it in the record's history. */
export interface HistoryItem {
  hash: string;
  time: number;
  /** The user the change is known to come from, when the document says. */
  by: number | undefined;
  actor: string;
  /** Top-level fields the change touched, e.g. `status`, `timeline`, `description`. */
  fields: string[];
  /** Timeline actions the change appended. */
  actions: string[];
}

/**
 * A record's changes in causal order, each with the fields it touched (from `A.diff`
 * between the change's dependencies and the change itself) and the workflow actions it
 * appended. A change names only its device (actor); the person is known from the `by` of
 * a timeline entry or note it added, from the first change (the reporter), from this
 * user's own devices, or from another change of the same device.
 */
export function readHistory(A: Am, doc: Doc<unknown>, mine: Set<string>, me: number, reportedBy: number): HistoryItem[] {
  const metas = A.getChangesMetaSince(doc, []);
  const actorUser = new Map<string, number>();
  const items: HistoryItem[] = metas.map((m) => {
    const patches = A.diff(doc, m.deps, [m.hash]);
    const fields = new Set<string>();
    const actions: string[] = [];
    let by: number | undefined;
    for (const p of patches) {
      const top = p.path[0];
      if (typeof top === 'string') fields.add(top);
      if ((top === 'timeline' || top === 'notes') && p.action === 'put' && p.path.length === 3) {
        if (p.path[2] === 'by' && typeof p.value === 'number') by = p.value;
        if (top === 'timeline' && p.path[2] === 'action') actions.push(String(p.value));
      }
    }
    if (m.deps.length === 0) by ??= reportedBy;
    if (mine.has(m.actor)) by ??= me;
    if (by !== undefined) actorUser.set(m.actor, by);
    return { hash: m.hash, time: m.time * 1000, by, actor: m.actor, fields: Array.from(fields), actions };
  });
  for (const h of items) h.by ??= actorUser.get(h.actor);
  return items;
}

/** Fields an action writes: its own sentence says what they became. */
const WORKFLOW_FIELDS = new Set<string>(['timeline', 'schema', 'id', ...RULES.fields]);
/** Fields that have their own sentence rather than "changed X". */
const OWN_SENTENCE: Record<string, 'history.addedNote' | 'history.addedPhotos'> = {
  notes: 'history.addedNote',
  attachments: 'history.addedPhotos',
};

/**
 * What a change did, as a sentence in the user's language with the person's name:
 * "王芳受理了这条记录，并添加了备注" / "Wang Fang accepted the record, and added a note".
 * `name` turns the change's author (when known) into a name.
 */
export function historySentence(h: HistoryItem, name: (by: number | undefined) => string): string {
  const parts: string[] = [];
  for (const a of h.actions) {
    const key = `history.did.${a}`;
    parts.push(hasKey(key) ? t(key) : t('history.didOther', { action: a }));
  }
  const changed: string[] = [];
  // A new record's first change writes every field: reporting it says all of that.
  const fields = h.actions.includes('report') ? [] : h.fields;
  for (const f of fields) {
    if (h.actions.length && WORKFLOW_FIELDS.has(f)) continue;
    if (f in OWN_SENTENCE) {
      parts.push(t(OWN_SENTENCE[f]));
      continue;
    }
    if (f === 'timeline') continue;
    const key = `field.${f}`;
    changed.push(hasKey(key) ? t(key) : f);
  }
  if (changed.length) parts.push(t('history.changed', { fields: changed.join(t('history.and')) }));
  if (!parts.length) parts.push(t('history.nothing'));
  return t('history.sentence', { who: name(h.by), what: series(parts) });
}

/** "A，B，并C" / "A, B and C". */
function series(parts: string[]): string {
  const en = getLang() === 'en';
  if (parts.length < 2) return parts.join('');
  const head = parts.slice(0, -1).join(en ? ', ' : '，');
  return `${head}${en ? ' and ' : '，并'}${parts[parts.length - 1]}`;
}
