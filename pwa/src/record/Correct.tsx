import { useState } from 'preact/hooks';
import type { RecordKind } from '../api';
import { CategoryPicker, groupOf } from '../components/CategoryPicker';
import { currentLocation, locateErrorKey } from '../geo';
import { t } from '../i18n';
import type { Reference } from '../reference';
import { useUnsaved } from '../unsaved';
import type { Correction, Location, RecordData } from './core.mjs';

interface Props {
  record: RecordData;
  reference: Reference;
  onSave: (patch: Correction) => Promise<void>;
  onCancel: () => void;
}

/**
 * Correcting what the reporter set, all of it (a supervisor returns a record for any of
 * these): title, category, description, address and location; photos are added below.
 * Saved as one change, so the history shows one correction.
 */
export function Correct({ record: r, reference, onSave, onCancel }: Props) {
  const [title, setTitle] = useState(r.title);
  const [description, setDescription] = useState(r.description);
  const [address, setAddress] = useState(r.address);
  const [group, setGroup] = useState(groupOf(reference.categories, r.category));
  const [category, setCategory] = useState(r.category);
  const [location, setLocation] = useState<Location | null | undefined>(undefined);
  const [locating, setLocating] = useState(false);
  const [locError, setLocError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const shown = location === undefined ? r.location : (location ?? undefined);
  const patch: Correction = {
    ...(title !== r.title ? { title } : {}),
    ...(description !== r.description ? { description } : {}),
    ...(address !== r.address ? { address } : {}),
    ...(category && category !== r.category ? { category } : {}),
    ...(location !== undefined ? { location } : {}),
  };
  const changed = Object.keys(patch).length > 0;
  useUnsaved(changed);

  async function save() {
    if (!title.trim() || !category) {
      setError(t('report.required'));
      return;
    }
    setBusy(true);
    try {
      await onSave(patch);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="form" data-testid="correct-form">
      <div class="field">
        <label for="c-title">{t('report.titleField')}</label>
        <input id="c-title" data-testid="correct-title" maxLength={200} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
      </div>
      <CategoryPicker
        categories={reference.categories}
        kind={r.kind as RecordKind}
        group={group}
        category={category}
        onChange={(g, c) => {
          setGroup(g);
          setCategory(c);
        }}
      />
      <div class="field">
        <label for="c-description">{t('report.description')}</label>
        <textarea
          id="c-description"
          class="textarea"
          rows={5}
          data-testid="description-input"
          value={description}
          onInput={(e) => setDescription(e.currentTarget.value)}
        />
      </div>
      <div class="field">
        <label for="c-address">{t('report.address')}</label>
        <input id="c-address" data-testid="correct-address" maxLength={500} value={address} onInput={(e) => setAddress(e.currentTarget.value)} />
      </div>
      <div class="field">
        <span class="label">{t('report.location')}</span>
        {shown && (
          <p class="muted" data-testid="correct-location">
            {t('report.locationValue', { lat: shown.lat.toFixed(5), lng: shown.lng.toFixed(5), acc: Math.round(shown.accuracy_m ?? 0) })}
          </p>
        )}
        {locError && <p class="muted">{locError}</p>}
        <div class="row">
          <button
            type="button"
            class="btn btn-light"
            disabled={locating}
            data-testid="correct-locate"
            onClick={() => {
              setLocating(true);
              setLocError(null);
              currentLocation()
                .then(setLocation)
                .catch((err: unknown) => setLocError(t(locateErrorKey(err))))
                .finally(() => setLocating(false));
            }}
          >
            {locating ? t('report.locating') : shown ? t('report.relocate') : t('report.locate')}
          </button>
          {shown && (
            <button type="button" class="btn btn-light" onClick={() => setLocation(null)}>
              {t('report.clearLocation')}
            </button>
          )}
        </div>
      </div>
      {error && (
        <p class="alert alert-error" role="alert">
          {error}
        </p>
      )}
      <div class="row">
        <button type="button" class="btn btn-light" onClick={onCancel}>
          {t('home.cancel')}
        </button>
        <button type="button" class="btn btn-primary" disabled={busy || !changed} data-testid="save-description" onClick={() => void save()}>
          {t('report.save')}
        </button>
      </div>
    </div>
  );
}
