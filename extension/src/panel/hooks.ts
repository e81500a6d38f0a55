import { ISignal } from '@lumino/signaling';
import { useEffect, useState } from 'react';

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
