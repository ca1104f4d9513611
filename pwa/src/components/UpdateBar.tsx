import { useEffect, useState } from 'preact/hooks';
import { t } from '../i18n';
import { applyUpdate, onUpdateAvailable } from '../sw-register';
import { useAnyUnsaved } from '../unsaved';

/** Offers a downloaded new version instead of swapping it in under the user. */
export function UpdateBar() {
  const [worker, setWorker] = useState<ServiceWorker | null>(null);
  const unsaved = useAnyUnsaved();
  useEffect(() => onUpdateAvailable(setWorker), []);
  if (!worker) return null;
  return (
    <div class="update-bar" role="alert" data-testid="update-bar">
      <span>{unsaved ? t('update.afterSave') : t('update.available')}</span>
      <div class="update-actions">
        <button type="button" class="btn btn-light" onClick={() => setWorker(null)}>
          {t('update.later')}
        </button>
        <button
          type="button"
          class="btn btn-primary"
          disabled={unsaved}
          data-testid="update-apply"
          onClick={() => applyUpdate(worker)}
        >
          {t('update.apply')}
        </button>
      </div>
    </div>
  );
}
