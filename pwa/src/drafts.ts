import type { RecordKind } from './api';
import type { Location } from './record/core.mjs';
import type { ReportPrefill } from './screens/Household';

/** What the report form holds while the user fills it in. */
export interface ReportForm {
  kind: RecordKind;
  group: string;
  category: string;
  title: string;
  description: string;
  address: string;
  /** The registry's household the record is about (its id), or ''. */
  household: string;
  /** Whom a visit saw (pids of that household). */
  persons: string[];
  /** A visit's checklist answers. */
  checks: Record<string, string>;
  urgent: boolean;
  location: Location | null;
  grid: string;
  sector: string;
}

/**
 * A report form kept on the phone as the user types, so that leaving the form, a call,
 * the app being killed or the battery running out loses nothing. Listed on home until the
 * user saves it as a record or discards it on purpose; never synced (it is not a record
 * yet, and it may hold half-typed personal details).
 */
export interface SavedDraft {
  id: string;
  /** When it was last written (ms). */
  updated: number;
  form: ReportForm;
  /** Its photos (SHA-256), held in the photo database in state `draft`. */
  photos: string[];
  /** Opened from a household (a visit, a need raised from a visit). */
  prefill?: ReportPrefill;
}

/** How long a draft waits after the last keystroke before it is written. */
export const DRAFT_WRITE_DELAY_MS = 400;
/** Photos taken in a form that was neither saved nor kept as a draft are dropped after this. */
export const LOOSE_PHOTO_MAX_AGE_MS = 7 * 24 * 3600_000;
