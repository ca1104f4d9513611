import { useEffect, useRef, useState } from 'preact/hooks';
import { authedFetch } from '../api';
import { t } from '../i18n';
import { getPhotos, toAttachment, type Attachment, type Photo, type Photos } from './db';
import { sha256Hex, thumbnailOf } from './image';

/**
 * How one photo shows: `local` (bytes here, on the server too), `pending` (taken here,
 * not uploaded yet), `waiting` (someone else's, the server does not have it yet),
 * `unavailable` (not here and no network), `failed` (the server refused it), `loading`.
 */
export type ShownState = 'loading' | 'local' | 'pending' | 'waiting' | 'unavailable' | 'failed';

interface Shown {
  state: ShownState;
  thumb?: string;
}

interface Props {
  /** The signed-in user: photos are cached in their own database. */
  userId: number;
  attachments: Attachment[];
  /** Change it (e.g. the store's version) to look again for photos that were missing. */
  version?: number;
}

// One download per photo at a time, however many strips show it.
const downloads = new Map<string, Promise<Photo | 'missing' | 'offline'>>();

/** Fetches a photo someone else took and keeps it, checked against its hash, for offline viewing. */
function download(photos: Photos, a: Attachment): Promise<Photo | 'missing' | 'offline'> {
  let p = downloads.get(a.sha256);
  if (!p) {
    p = (async () => {
      try {
        const res = await authedFetch(`/blobs/${a.sha256}`, { headers: { Accept: 'image/*' } });
        if (res.status === 404) return 'missing' as const;
        if (!res.ok) return 'offline' as const;
        const full = await res.blob();
        if ((await sha256Hex(full)) !== a.sha256) return 'offline' as const;
        const photo: Photo = {
          ...toAttachment(a),
          mime: full.type || a.mime,
          full,
          thumb: await thumbnailOf(full),
          state: 'done',
          created: Date.now(),
        };
        return await photos.put(photo);
      } catch {
        return 'offline' as const;
      }
    })().finally(() => downloads.delete(a.sha256));
    downloads.set(a.sha256, p);
  }
  return p;
}

function stateOf(p: Photo): ShownState {
  return p.state === 'done' ? 'local' : p.state === 'failed' ? 'failed' : 'pending';
}

/**
 * A record's photos: thumbnails from this phone's database (so they show offline),
 * others' photos fetched once and cached, a badge on those not on the server yet,
 * and the full photo on tap. Usable anywhere a record's attachments are known.
 */
export function PhotoStrip({ userId, attachments, version = 0 }: Props) {
  const [shown, setShown] = useState<Map<string, Shown>>(new Map());
  const [tick, setTick] = useState(0);
  const [viewing, setViewing] = useState<string | null>(null);
  const urls = useRef(new Map<string, string>());

  const unique = attachments.filter((a, i) => attachments.findIndex((b) => b.sha256 === a.sha256) === i);
  const key = unique.map((a) => a.sha256).join();

  useEffect(() => {
    let unsubscribe: (() => void) | undefined;
    let gone = false;
    const bump = () => setTick((n) => n + 1);
    void getPhotos(userId).then((photos) => {
      if (gone) return;
      unsubscribe = photos.subscribe(bump);
      bump(); // whatever changed before the subscription
    });
    window.addEventListener('online', bump);
    return () => {
      gone = true;
      unsubscribe?.();
      window.removeEventListener('online', bump);
    };
  }, [userId]);

  useEffect(() => {
    const held = urls.current;
    return () => {
      for (const url of held.values()) URL.revokeObjectURL(url);
      held.clear();
    };
  }, []);

  useEffect(() => {
    let cancelled = false;
    void (async () => {
      const photos = await getPhotos(userId);
      const entries = await Promise.all(
        unique.map(async (a): Promise<[string, Shown]> => {
          let p = await photos.get(a.sha256);
          let state: ShownState | undefined;
          if (!p) {
            if (!navigator.onLine) state = 'unavailable';
            else {
              const got = await download(photos, a);
              if (got === 'missing') state = 'waiting';
              else if (got === 'offline') state = 'unavailable';
              else p = got;
            }
          }
          if (!p) return [a.sha256, { state: state ?? 'unavailable' }];
          let thumb = urls.current.get(a.sha256);
          if (!thumb) {
            thumb = URL.createObjectURL(p.thumb);
            urls.current.set(a.sha256, thumb);
          }
          return [a.sha256, { state: stateOf(p), thumb }];
        }),
      );
      if (!cancelled) setShown(new Map(entries));
    })();
    return () => {
      cancelled = true;
    };
  }, [userId, key, version, tick]);

  useEffect(() => {
    if (!viewing) return;
    return () => URL.revokeObjectURL(viewing);
  }, [viewing]);

  if (unique.length === 0) return null;
  const waiting = unique.filter((a) => {
    const s = shown.get(a.sha256)?.state;
    return s === 'pending' || s === 'waiting';
  }).length;

  async function open(sha256: string) {
    const p = await (await getPhotos(userId)).get(sha256);
    if (p) setViewing(URL.createObjectURL(p.full));
  }

  return (
    <div class="photo-strip" data-testid="photo-strip">
      {waiting > 0 && (
        <p class="photos-waiting" role="status" data-testid="photos-waiting" data-count={waiting}>
          {t('photos.waiting', { n: waiting })}
        </p>
      )}
      <ul class="photo-list">
        {unique.map((a) => {
          const s = shown.get(a.sha256) ?? { state: 'loading' as const };
          return (
            <li key={a.sha256}>
              <button
                type="button"
                class="photo-thumb"
                data-testid="photo"
                data-state={s.state}
                data-sha={a.sha256}
                disabled={!s.thumb}
                aria-label={t('photos.view')}
                onClick={() => void open(a.sha256)}
              >
                {s.thumb ? <img src={s.thumb} alt="" /> : <span class="photo-empty" aria-hidden="true" />}
                {s.state !== 'local' && s.state !== 'loading' && (
                  <span class={`photo-badge photo-badge-${s.state}`}>{t(`photos.state.${s.state}`)}</span>
                )}
              </button>
            </li>
          );
        })}
      </ul>
      {viewing && (
        <div class="photo-viewer" role="dialog" aria-modal="true" data-testid="photo-viewer" onClick={() => setViewing(null)}>
          <img src={viewing} alt={t('photos.view')} />
          <button type="button" class="btn btn-light" data-testid="photo-viewer-close" onClick={() => setViewing(null)}>
            {t('photos.close')}
          </button>
        </div>
      )}
    </div>
  );
}
