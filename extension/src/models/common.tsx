/**
 * Small pieces the Models views share: loading with errors, and an inline delete confirmation.
 */
import * as React from 'react';

import { toLabrigError } from '../request';

/**
 * Run `load` whenever `deps` change; ignores answers that arrive after unmount.
 */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: React.DependencyList
): { value: T | null; error: string | null; reload: () => void } {
  const [value, setValue] = React.useState<T | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [tick, setTick] = React.useState(0);
  React.useEffect(() => {
    let live = true;
    load().then(
      result => {
        if (live) {
          setValue(result);
          setError(null);
        }
      },
      reason => {
        if (live) {
          setError(toLabrigError(reason).message);
        }
      }
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return { value, error, reload: () => setTick(t => t + 1) };
}

/**
 * A destructive action behind an inline question: Escape or Cancel takes it back, and focus
 * returns to the button that asked.
 */
export function Confirm(props: {
  label: string;
  question: string;
  confirming: boolean;
  setConfirming: (value: boolean) => void;
  onConfirm: () => void;
}): JSX.Element {
  const trigger = React.useRef<HTMLButtonElement>(null);
  const cancel = React.useRef<HTMLButtonElement>(null);
  const wasConfirming = React.useRef(false);
  React.useEffect(() => {
    if (props.confirming) {
      cancel.current?.focus();
    } else if (wasConfirming.current) {
      trigger.current?.focus();
    }
    wasConfirming.current = props.confirming;
  }, [props.confirming]);

  if (!props.confirming) {
    return (
      <button
        ref={trigger}
        type="button"
        className="labrig-LinkButton labrig-Danger"
        onClick={() => props.setConfirming(true)}
      >
        {props.label}
      </button>
    );
  }
  return (
    <div
      className="labrig-Confirm"
      role="group"
      aria-label={props.label}
      onKeyDown={event => {
        if (event.key === 'Escape') {
          event.stopPropagation();
          props.setConfirming(false);
        }
      }}
    >
      <span>{props.question}</span>{' '}
      <button type="button" className="labrig-Danger" onClick={props.onConfirm}>
        Delete
      </button>{' '}
      <button ref={cancel} type="button" onClick={() => props.setConfirming(false)}>
        Cancel
      </button>
    </div>
  );
}
