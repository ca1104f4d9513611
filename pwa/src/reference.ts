import { getCatalogue, getUnits, type Category, type Unit } from './api';
import type { Store } from './store';

/** Catalogue and units as last fetched, so the report form works offline. */
export interface Reference {
  categories: Category[];
  units: Unit[];
}

export async function loadReference(store: Store): Promise<Reference> {
  const [categories, units] = await Promise.all([
    store.meta<Category[]>('catalogue'),
    store.meta<Unit[]>('units'),
  ]);
  return { categories: categories ?? [], units: units ?? [] };
}

/** Fetches both lists and caches them; keeps the cached ones when offline. */
export async function refreshReference(store: Store): Promise<Reference> {
  const [categories, units] = await Promise.allSettled([getCatalogue(), getUnits()]);
  if (categories.status === 'fulfilled') await store.setMeta('catalogue', categories.value);
  if (units.status === 'fulfilled') await store.setMeta('units', units.value);
  return loadReference(store);
}
