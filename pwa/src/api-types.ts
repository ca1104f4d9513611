// Shapes of the server's JSON API (/api/v1). Kept apart from api.ts so the
// storage layer can use them without importing the network code.

import type { ErrorCode, PersonalField, Relation, ResidentStatus } from './generated/protocol.mjs';

export type Role =
  | 'leader'
  | 'grid_staff'
  | 'community_supervisor'
  | 'workstation_supervisor'
  | 'street_supervisor'
  | 'district_admin'
  | 'department_handler';

export type Scope =
  | { kind: 'subtree'; path: string }
  | { kind: 'sector'; path: string }
  | { kind: 'department'; department: string };

export interface User {
  id: number;
  username: string;
  name: string;
  role: Role;
  /** Unit path, e.g. "/gusu/byw/ws1/jinzhu/g01". */
  unit: string;
  unit_name: string;
  /** e.g. "/gusu:police"; null for everyone outside a professional department. */
  department: string | null;
  scope: Scope;
}

export interface ServerInfo {
  name: string;
  version: string;
  demo: boolean;
  /** A demo server's accounts to try, for the login page; absent otherwise. */
  demo_accounts?: { username: string; name: string; role: Role }[];
  demo_password?: string;
}

export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  /** Lifetime of the access token in seconds. */
  expires_in: number;
  user: User;
}

export interface ErrorBody {
  code: string;
  message: string;
}

export type RecordKind = 'need' | 'visit' | 'event';

/** An entry of `GET /api/v1/catalogue`: classes have no parent, their subcategories name one. */
export interface Category {
  code: string;
  parent: string | null;
  name_zh: string;
  name_en: string;
  kinds: RecordKind[];
  handling_hours: number;
  field_resolvable: boolean;
}

/** A grid or sector the user files records under (`GET /api/v1/units`). */
export interface Unit {
  id: number;
  path: string;
  kind: string;
  sector_kind: string | null;
  name: string;
}

/** Someone of the caller's district: names and roles, nothing private (GET /api/v1/people). */
export interface Person {
  id: number;
  name: string;
  role: Role;
  unit: string;
  unit_name: string;
  department?: string | null;
}

/** A care tag of the catalogue (`GET /api/v1/catalogue`, `care_tags`). */
export interface CareTag {
  code: string;
  name_zh: string;
  name_en: string;
  interval_days: number | null;
}

/**
 * A resident of the user's patch as the phone's cache holds them (`GET /api/v1/residents`):
 * masked fields always; `name` and `phone` in clear only where the role's phone keeps them
 * (shown masked until revealed, and every reveal is logged); never the ID number.
 */
export interface Resident {
  pid: string;
  household: string;
  relation: Relation;
  status: ResidentStatus;
  name_masked: string;
  name?: string;
  gender: 'female' | 'male' | null;
  birth_year: number | null;
  phone_masked: string | null;
  phone?: string;
  id_number_masked: string | null;
  id_hash: string | null;
  tags: string[];
  erased: boolean;
  interval_days: number | null;
  last_visit_at: number | null;
  due_at: number | null;
}

/** A look at personal data in clear, made on the phone and uploaded at the next sync. */
export interface AccessEntry {
  pid: string;
  fields: PersonalField[];
  reason: string;
  at: number;
  call?: boolean;
}

/**
 * A person's personal fields as entered on the phone (`POST /api/v1/residents`, one edit):
 * kept in the phone's queue until the server has taken it. A field left out is unchanged;
 * `null` clears it. Field phones never send ID numbers.
 */
export interface ResidentEdit {
  pid: string;
  name?: string;
  gender?: 'female' | 'male' | null;
  birth_year?: number | null;
  phone?: string | null;
  tags_add?: string[];
  tags_remove?: string[];
}

/** The server's answer to one edit. */
export interface ResidentEditResult {
  pid: string | null;
  ok: boolean;
  code?: ErrorCode;
  message?: string;
}
