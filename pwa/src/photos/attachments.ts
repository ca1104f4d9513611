import type { Doc } from '@automerge/automerge/slim';
import type { automerge } from '../automerge';
import { str } from '../record/core.mjs';
import type { Attachment } from './db';

type Am = Awaited<ReturnType<typeof automerge>>;

/** Commit message of a change that adds photos (shown in the record's history). */
export const PHOTO_MESSAGE = '添加照片';

function num(v: unknown): number | undefined {
  return v === undefined || v === null ? undefined : Number(v);
}

/** A record document's `attachments`, as plain data; entries without a valid hash are skipped. */
export function readAttachments(doc: unknown): Attachment[] {
  const list = (doc as { attachments?: unknown[] } | null)?.attachments;
  if (!list) return [];
  const out: Attachment[] = [];
  for (const raw of Array.from(list)) {
    const a = raw as Record<string, unknown>;
    const sha256 = str(a.sha256);
    if (!sha256 || !/^[0-9a-f]{64}$/.test(sha256)) continue;
    out.push({
      sha256,
      mime: str(a.mime) ?? 'image/jpeg',
      bytes: num(a.bytes) ?? 0,
      width: num(a.width),
      height: num(a.height),
      taken_at: num(a.taken_at),
      by: num(a.by) ?? 0,
    });
  }
  return out;
}

/**
 * Appends photo references to the record in one change: strings as ImmutableString,
 * numbers as whole numbers (the schema wants ints). Appending, never replacing the list,
 * lets photos added offline on two phones both survive the merge. Photos the record
 * already has are skipped.
 */
export function addAttachments(A: Am, doc: Doc<unknown>, photos: Attachment[], at = Date.now()): Doc<unknown> {
  const have = new Set(readAttachments(doc).map((a) => a.sha256));
  const fresh = photos.filter((p) => !have.has(p.sha256) && have.add(p.sha256));
  if (fresh.length === 0) return doc;
  return A.change(doc, { message: PHOTO_MESSAGE, time: Math.floor(at / 1000) }, (d) => {
    const root = d as { attachments?: unknown[] };
    root.attachments ??= [];
    const s = (v: string) => new A.ImmutableString(v);
    for (const p of fresh) {
      const entry: Record<string, unknown> = {
        sha256: s(p.sha256),
        mime: s(p.mime),
        bytes: Math.round(p.bytes),
        by: Math.round(p.by),
      };
      if (p.width !== undefined) entry.width = Math.round(p.width);
      if (p.height !== undefined) entry.height = Math.round(p.height);
      if (p.taken_at !== undefined) entry.taken_at = Math.round(p.taken_at);
      root.attachments.push(entry);
    }
  });
}
