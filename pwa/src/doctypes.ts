// The phone's side of the document-type registry (sync/src/doctype.rs): what the store and
// the sync engine need of each type of synced document. The list of types is generated
// from the Rust (DOC_TYPES); `ENTRIES` is keyed by it, so a type added in Rust and
// regenerated does not compile here until it has its entry.
//
// A document of a type this version of the app does not know (the server is newer) is kept
// as it came, bytes and all, with no summary: nothing is lost, nothing of it is shown or
// pushed, and the version that knows it finds it in the store.

import type { Doc } from '@automerge/automerge/slim';
import { DOC_TYPES, type DocType } from './generated/protocol.mjs';
import { readRecord } from './record/core.mjs';
import { readHousehold } from './household';

/** What the list shows of a document, without loading it again. */
export interface Listing {
  kind: string;
  status: string;
  category: string;
  title: string;
  address: string;
  grid: string;
  sector?: string;
  reported_by: number;
  reported_at: number;
  urgency: string;
  /** The household of the registry the record is about, and whom a visit saw. */
  household?: string;
  persons?: string[];
  /** The record this one was raised from (a need found on a visit). */
  raised_from?: string;
  /** The grid staff member it was assigned to, and whether it is urged (督办). */
  assignee?: number;
  urged?: boolean;
  /**
   * Its latest workflow step: what news on home is made of (absent in summaries written
   * before it was listed, until the record next changes).
   */
  last?: { action: string; by: number; at: number };
}

interface DocTypeEntry {
  /**
   * The record list's line for the document (throws if the document is not a valid one), or
   * null for a type the record list does not show: it is kept in the store as it came, for
   * the screens that read it.
   */
  listing: ((doc: Doc<unknown>) => Listing) | null;
}

/** The latest step by date (concurrent steps merge in any order). */
function lastStep(timeline: { action: string; by: number; at: number }[]): { action: string; by: number; at: number } {
  const e = timeline.reduce((a, b) => (b.at >= a.at ? b : a));
  return { action: e.action, by: e.by, at: e.at };
}

const ENTRIES: Record<DocType, DocTypeEntry> = {
  record: {
    listing(doc) {
      const r = readRecord(doc);
      return {
        kind: r.kind,
        status: r.status,
        category: r.category,
        title: r.title,
        address: r.address,
        grid: r.grid,
        sector: r.sector,
        reported_by: r.reported_by,
        reported_at: r.reported_at,
        urgency: r.urgency,
        ...(r.household ? { household: r.household, persons: r.persons } : {}),
        ...(r.raised_from ? { raised_from: r.raised_from } : {}),
        ...(r.assignee !== undefined ? { assignee: r.assignee } : {}),
        ...(r.urged ? { urged: true } : {}),
        ...(r.timeline.length ? { last: lastStep(r.timeline) } : {}),
      };
    },
  },
  // Households (sync/src/household) are pulled for the user's patch so that the visit
  // cycle works offline, and made and corrected on the phone. Their summary carries the
  // sync state (a household made offline waits like a record); the record list leaves
  // them out (`Store.all`).
  household: {
    listing(doc) {
      const h = readHousehold(doc);
      return {
        kind: 'household',
        status: '',
        category: '',
        title: h.number,
        address: h.address,
        grid: h.grid,
        sector: h.sector,
        reported_by: h.created_by,
        reported_at: h.created_at,
        urgency: 'normal',
      };
    },
  },
};

/**
 * The type a stored entry names, if this app knows it. Absent means the first type, a
 * record, as on the wire and in every entry written before types existed.
 */
export function knownType(entry: { type?: string }): DocType | undefined {
  const type = entry.type ?? DOC_TYPES[0];
  return DOC_TYPES.find((t) => t === type);
}

/** The registry's entry for the document's type, or undefined for a type this app does not know. */
export function entryFor(entry: { type?: string }): DocTypeEntry | undefined {
  const type = knownType(entry);
  return type && ENTRIES[type];
}
