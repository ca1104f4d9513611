import { useEffect, useState } from 'preact/hooks';

// Forms with input the user has not saved. While any exist, a new app version
// is not swapped in: the reload would throw their typing away.
const dirty = new Set<symbol>();
const listeners = new Set<() => void>();

function emit(): void {
  for (const fn of listeners) fn();
}

export function hasUnsaved(): boolean {
  return dirty.size > 0;
}

/** Marks the calling form as holding unsaved input while `isDirty` is true. */
export function useUnsaved(isDirty: boolean): void {
  const [key] = useState(() => Symbol('form'));
  useEffect(() => {
    if (!isDirty) return;
    dirty.add(key);
    emit();
    return () => {
      dirty.delete(key);
      emit();
    };
  }, [isDirty, key]);
}

/** Re-renders the caller when forms become dirty or clean; returns whether any is dirty. */
export function useAnyUnsaved(): boolean {
  const [, setTick] = useState(0);
  useEffect(() => {
    const fn = () => setTick((n) => n + 1);
    listeners.add(fn);
    return () => {
      listeners.delete(fn);
    };
  }, []);
  return hasUnsaved();
}
