import { useEffect, useState } from 'preact/hooks';
import { t } from '../i18n';
import { applyUpdate, onUpdateAvailable } from '../sw-register';

/** Offers a downloaded new version instead of swapping it in under the user. */
export function UpdateBar() {
  const [worker, setWorker] = useState<ServiceWorker | null>(null);
  useEffect(() => onUpdateAvailable(setWorker), []);
  if (!worker) return null;
  return (
    <div class="update-bar" role="alert">
      <span>{t('update.available')}</span>
      <div class="update-actions">
        <button type="button" class="btn btn-light" onClick={() => setWorker(null)}>
          {t('update.later')}
        </button>
        <button type="button" class="btn btn-primary" onClick={() => applyUpdate(worker)}>
          {t('update.apply')}
        </button>
      </div>
    </div>
  );
}
