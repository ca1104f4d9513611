import { ApiError, NetworkError } from '../api';
import { hasKey, t } from '../i18n';
import { useCountdown } from '../hooks';

interface Props {
  error: unknown;
  /** Epoch ms when a rate limit ends, so the wait can count down. */
  retryAt: number | null;
}

export function ErrorAlert({ error, retryAt }: Props) {
  const secondsLeft = useCountdown(retryAt);
  let title: string;
  if (error instanceof ApiError) {
    // Known codes get our own wording in the user's language (the server
    // speaks English, and its retry time would not count down); anything
    // else shows the server's message as it is.
    const key = `error.${error.code}`;
    title = hasKey(key) ? t(key) : error.message || t('error.unknown', { code: error.code });
  } else if (error instanceof NetworkError) {
    title = t('error.network');
  } else {
    title = t('error.unknown', { code: error instanceof Error ? error.name : 'unknown' });
  }

  return (
    <div class="alert alert-error" role="alert" data-testid="error">
      <p class="alert-title">{title}</p>
      {retryAt !== null && (
        <p class="alert-retry" data-testid="retry-after">
          {secondsLeft > 0 ? t('error.retryAfter', { s: secondsLeft }) : t('error.canRetry')}
        </p>
      )}
    </div>
  );
}
