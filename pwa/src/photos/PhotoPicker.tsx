import { useEffect, useMemo, useState } from 'preact/hooks';
import { t } from '../i18n';
import { getPhotos, type Photo, type PhotoState } from './db';
import { preparePhoto } from './image';

interface Props {
  userId: number;
  /** `draft` in a report form not saved yet; `pending` when the record exists already. */
  state: Extract<PhotoState, 'draft' | 'pending'>;
  /** Called with the stored photos (resized, hashed), in the order picked. */
  onAdded: (photos: Photo[]) => void | Promise<void>;
  disabled?: boolean;
}

/** "Take photo" (the camera) and "choose from album"; each photo is resized and stored before `onAdded`. */
export function PhotoPicker({ userId, state, onAdded, disabled }: Props) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(false);

  async function picked(e: Event) {
    const input = e.currentTarget as HTMLInputElement;
    const files = Array.from(input.files ?? []);
    input.value = '';
    if (files.length === 0) return;
    setBusy(true);
    setError(false);
    try {
      const photos = await getPhotos(userId);
      const stored: Photo[] = [];
      for (const file of files) stored.push(await photos.put(await preparePhoto(file, userId, state)));
      await onAdded(stored);
    } catch (err) {
      console.warn('photo not added', err);
      setError(true);
    } finally {
      setBusy(false);
    }
  }

  const off = disabled || busy;
  return (
    <div class="photo-picker">
      <div class="row">
        <label class={off ? 'btn btn-light photo-pick is-disabled' : 'btn btn-light photo-pick'}>
          <input
            type="file"
            accept="image/*"
            capture="environment"
            class="photo-input"
            data-testid="photo-camera"
            disabled={off}
            onChange={(e) => void picked(e)}
          />
          {t('photos.camera')}
        </label>
        <label class={off ? 'btn btn-light photo-pick is-disabled' : 'btn btn-light photo-pick'}>
          <input
            type="file"
            accept="image/*"
            multiple
            class="photo-input"
            data-testid="photo-gallery"
            disabled={off}
            onChange={(e) => void picked(e)}
          />
          {t('photos.gallery')}
        </label>
      </div>
      {busy && (
        <p class="muted" role="status" data-testid="photo-processing">
          {t('photos.processing')}
        </p>
      )}
      {error && (
        <p class="alert alert-error" role="alert" data-testid="photo-error">
          {t('photos.error')}
        </p>
      )}
    </div>
  );
}

/** Thumbnails of photos in a form not saved yet, each with a remove button. */
export function DraftPhotos({ photos, onRemove }: { photos: Photo[]; onRemove: (sha256: string) => void }) {
  const urls = useMemo(() => new Map(photos.map((p) => [p.sha256, URL.createObjectURL(p.thumb)])), [photos]);
  useEffect(() => () => urls.forEach((u) => URL.revokeObjectURL(u)), [urls]);
  if (photos.length === 0) return null;
  return (
    <ul class="photo-list" data-testid="draft-photos">
      {photos.map((p) => (
        <li key={p.sha256} class="photo-thumb" data-testid="draft-photo">
          <img src={urls.get(p.sha256)} alt="" />
          <button type="button" class="photo-remove" aria-label={t('photos.remove')} onClick={() => onRemove(p.sha256)}>
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}
