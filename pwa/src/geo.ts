import type { Location } from './record/core.mjs';

/** Why no position came: the phone has no GPS, or it gave none in time. */
export type LocateError = 'unavailable' | 'failed';

/** The phone's position now (WGS-84, as the GPS gives it; converted only when drawn on a map). */
export function currentLocation(): Promise<Location> {
  return new Promise((resolve, reject) => {
    if (!('geolocation' in navigator)) {
      reject(new Error('unavailable' satisfies LocateError));
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (pos) =>
        resolve({
          lat: pos.coords.latitude,
          lng: pos.coords.longitude,
          accuracy_m: Math.round(pos.coords.accuracy * 10) / 10,
        }),
      () => reject(new Error('failed' satisfies LocateError)),
      { enableHighAccuracy: true, timeout: 20_000, maximumAge: 30_000 },
    );
  });
}
