import { ISignal } from '@lumino/signaling';
import { useCallback, useEffect, useState } from 'react';

import { toLabrigError } from '../request';

/**
 * Re-render the calling component whenever `signal` emits; disconnects on unmount.
 */
export function useSignal<T>(signal: ISignal<T, unknown>): void {
  const [, setTick] = useState(0);
  useEffect(() => {
    const slot = (): void => {
      setTick(tick => tick + 1);
    };
    signal.connect(slot);
    return () => {
      signal.disconnect(slot);
    };
  }, [signal]);
}

/**
 * A row's actions: `busy` while one runs, and its failure as a message people can read.
 */
export function useAction(): {
  busy: boolean;
  error: string | null;
  act: (work: () => Promise<unknown>) => Promise<void>;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const act = useCallback(async (work: () => Promise<unknown>): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (err) {
      setError(toLabrigError(err).message);
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, act };
}
