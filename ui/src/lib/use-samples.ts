import { useState } from 'react';

export type Sample<T> = { t: number; value: T };

/**
 * Keeps the last `max` values a polled query returned, one per answer (`at` is the query's
 * dataUpdatedAt), so rates and charts can be computed from successive samples. Starts over
 * when `key` changes (another region).
 */
export function useSamples<T>(value: T | undefined, at: number, key: string, max = 90): Sample<T>[] {
  const [state, setState] = useState<{ key: string; samples: Sample<T>[] }>({ key, samples: [] });
  let current = state;
  if (state.key !== key) current = { key, samples: [] };
  const last = current.samples[current.samples.length - 1];
  if (value !== undefined && at > 0 && (!last || last.t < at)) {
    current = { key, samples: [...current.samples, { t: at, value }].slice(-max) };
  }
  // Updating state during render (React's "storing information from previous renders" pattern)
  // keeps the samples consistent with the value on screen, without an extra effect pass.
  if (current !== state) setState(current);
  return current.samples;
}
