import type { Location } from './record/core.mjs';

/** No position came: the phone has no GPS (`unavailable`), or it gave none in time (`failed`). */
export class LocateError extends Error {
  constructor(readonly reason: 'unavailable' | 'failed') {
    super(`position ${reason}`);
  }
}

/** The phone's position now (WGS-84, as the GPS gives it; converted only when drawn on a map). */
export function currentLocation(): Promise<Location> {
  return new Promise((resolve, reject) => {
    if (!('geolocation' in navigator)) {
      reject(new LocateError('unavailable'));
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (pos) =>
        resolve({
          lat: pos.coords.latitude,
          lng: pos.coords.longitude,
          accuracy_m: Math.round(pos.coords.accuracy * 10) / 10,
        }),
      () => reject(new LocateError('failed')),
      { enableHighAccuracy: true, timeout: 20_000, maximumAge: 30_000 },
    );
  });
}

/** What to tell the user when no position came. */
export function locateErrorKey(err: unknown): 'report.locationUnavailable' | 'report.locationFailed' {
  return err instanceof LocateError && err.reason === 'unavailable' ? 'report.locationUnavailable' : 'report.locationFailed';
}
