import { useEffect, useState } from 'preact/hooks';
import './field.css';
import { readRecord } from '../record/core.mjs';
import type { Location } from '../record/core.mjs';
import type { Store } from '../store';
import { ct } from './i18n';

const RADIUS_M = 50;
const WINDOW_MS = 7 * 86_400_000;

/** Metres between two points (haversine; plenty for 50 m). */
export function distanceM(a: { lat: number; lng: number }, b: { lat: number; lng: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLng = (b.lng - a.lng) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * 6_371_000 * Math.asin(Math.sqrt(h));
}

interface Near {
  id: string;
  title: string;
  metres: number;
}

/**
 * While reporting: records this phone already holds of the same category, within 50 m,
 * from the last 7 days, so the user can add a note to one instead of reporting again.
 * Only candidates by category and date (from the summaries) are loaded to check where.
 */
export function Duplicates({
  store,
  category,
  location,
  onOpen,
}: {
  store: Store;
  category: string;
  location: Location | null;
  onOpen: (id: string) => void;
}) {
  const [near, setNear] = useState<Near[]>([]);
  useEffect(() => {
    let cancelled = false;
    if (!category || !location) {
      setNear([]);
      return;
    }
    const since = Date.now() - WINDOW_MS;
    const candidates = store.all().filter((s) => s.category === category && s.reported_at >= since && s.status !== 'withdrawn');
    void (async () => {
      const found: Near[] = [];
      for (const s of candidates.slice(0, 200)) {
        const got = await store.load(s.id);
        const loc = got && readRecord(got.doc).location;
        if (!loc) continue;
        const metres = distanceM(location, loc);
        if (metres <= RADIUS_M) found.push({ id: s.id, title: s.title, metres });
      }
      if (!cancelled) setNear(found.sort((a, b) => a.metres - b.metres));
    })();
    return () => {
      cancelled = true;
    };
  }, [store, category, location?.lat, location?.lng]);

  if (near.length === 0) return null;
  return (
    <div class="alert dup" role="status" data-testid="duplicates">
      <p class="alert-title">{ct('dup.title')}</p>
      <p class="muted">{ct('dup.hint')}</p>
      <ul class="dup-list">
        {near.map((n) => (
          <li key={n.id} data-testid="duplicate">
            <button type="button" class="link-btn" onClick={() => onOpen(n.id)}>
              {n.title || '—'} · {Math.round(n.metres)} m · {ct('dup.open')}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
