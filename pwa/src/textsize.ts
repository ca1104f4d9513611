import { useEffect, useState } from 'preact/hooks';

/** Text sizes the whole app honours (styles.css scales the root font size by them). */
export const TEXT_SIZES = ['normal', 'large', 'xlarge'] as const;
export type TextSize = (typeof TEXT_SIZES)[number];

const STORAGE_KEY = 'haitang.textSize';
const listeners = new Set<(size: TextSize) => void>();

function stored(): TextSize {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    return TEXT_SIZES.find((s) => s === v) ?? 'normal';
  } catch {
    return 'normal';
  }
}

let current: TextSize = stored();
document.documentElement.dataset.textSize = current;

export function setTextSize(size: TextSize): void {
  current = size;
  document.documentElement.dataset.textSize = size;
  try {
    localStorage.setItem(STORAGE_KEY, size);
  } catch {
    // Not persisting is acceptable; the choice still applies to this visit.
  }
  for (const fn of listeners) fn(size);
}

/** The current text size, re-rendering the caller when it changes. */
export function useTextSize(): TextSize {
  const [size, setSize] = useState(current);
  useEffect(() => {
    listeners.add(setSize);
    return () => {
      listeners.delete(setSize);
    };
  }, []);
  return size;
}
