import { useEffect, useRef } from 'preact/hooks';
import { t } from '../i18n';

interface Props {
  /** The form being left is kept as a draft: leaving loses nothing, and the question says so. */
  draft: boolean;
  onStay: () => void;
  onLeave: () => void;
}

/** Asked before leaving a form with input not saved yet. */
export function LeaveDialog({ draft, onStay, onLeave }: Props) {
  const stay = useRef<HTMLButtonElement>(null);
  useEffect(() => stay.current?.focus(), []);
  return (
    <div class="dialog-backdrop">
      <div
        class="card dialog"
        role="alertdialog"
        aria-modal="true"
        aria-labelledby="leave-title"
        aria-describedby="leave-text"
        data-testid="leave-dialog"
        onKeyDown={(e) => {
          if (e.key === 'Escape') onStay();
        }}
      >
        <h2 id="leave-title" class="section-title">
          {t(draft ? 'leave.draftTitle' : 'leave.title')}
        </h2>
        <p id="leave-text">{t(draft ? 'leave.draftText' : 'leave.text')}</p>
        <div class="actions">
          <button ref={stay} type="button" class="btn btn-primary btn-block" data-testid="leave-stay" onClick={onStay}>
            {t('leave.stay')}
          </button>
          <button type="button" class="btn btn-light btn-block" data-testid="leave-go" onClick={onLeave}>
            {t(draft ? 'leave.goDraft' : 'leave.go')}
          </button>
        </div>
      </div>
    </div>
  );
}
