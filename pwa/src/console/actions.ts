import type { Category, User } from '../api';
import type { Store } from '../store';
import { check, dueAt, factsOf, perform, readWorkflow, type Action, type Params, type Who } from './workflow.mjs';

export function whoOf(user: User): Who {
  return { user_id: user.id, role: user.role, department: user.department };
}

export function categoryOf(categories: Category[], code: string): Category | undefined {
  return categories.find((c) => c.code === code);
}

/**
 * Takes a workflow action on the stored copy, checked against the rules on the latest
 * stored document (another tab or a sync may have changed it). Resolves `true` when the
 * action was written (it then waits for the next sync), `false` when the rules no longer
 * allow it or the record is not here.
 */
export async function act(
  store: Store,
  user: User,
  categories: Category[],
  id: string,
  action: Action,
  params: Params = {},
): Promise<boolean> {
  let done = false;
  await store.edit(id, (A, doc) => {
    const w = readWorkflow(A, doc);
    const cat = categoryOf(categories, w.category);
    const facts = factsOf(w, cat?.field_resolvable);
    if (!check(whoOf(user), facts, action).ok) return doc;
    const at = Date.now();
    const p: Params = { ...params };
    if (action === 'accept') p.due_at = dueAt(at, cat?.handling_hours ?? 72, w.urgency === 'urgent');
    done = true;
    return perform(A, doc, facts, action, user.id, at, p);
  });
  return done;
}
