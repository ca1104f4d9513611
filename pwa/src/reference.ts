import { getCatalogue, getPeople, getUnits, type CareTag, type Category, type Person, type Unit } from './api';
import type { Store } from './store';
import { t } from './i18n';

/** Catalogue, units and people as last fetched, so the app works and names people offline. */
export interface Reference {
  categories: Category[];
  units: Unit[];
  people: Person[];
  careTags: CareTag[];
}

export async function loadReference(store: Store): Promise<Reference> {
  const [categories, units, people, careTags] = await Promise.all([
    store.meta<Category[]>('catalogue'),
    store.meta<Unit[]>('units'),
    store.meta<Person[]>('people'),
    store.meta<CareTag[]>('care-tags'),
  ]);
  return { categories: categories ?? [], units: units ?? [], people: people ?? [], careTags: careTags ?? [] };
}

/** Fetches the lists and caches them; keeps the cached ones when offline. */
export async function refreshReference(store: Store): Promise<Reference> {
  const [categories, units, people] = await Promise.allSettled([getCatalogue(), getUnits(), getPeople()]);
  if (categories.status === 'fulfilled') {
    await store.setMeta('catalogue', categories.value.categories);
    await store.setMeta('care-tags', categories.value.care_tags);
  }
  if (units.status === 'fulfilled') await store.setMeta('units', units.value);
  if (people.status === 'fulfilled') await store.setMeta('people', people.value);
  return loadReference(store);
}

/** A name for a user id: this user, someone of the district, the server's own jobs (0), or a number. */
export function personName(reference: Reference, me: { id: number; name: string }, id: number): string {
  if (id === me.id) return me.name;
  if (id === 0) return t('history.server');
  return reference.people.find((p) => p.id === id)?.name ?? t('history.user', { id });
}
