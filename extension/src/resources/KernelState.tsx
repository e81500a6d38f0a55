import * as React from 'react';

import { IKernelWait, IStopEvent } from './api';

/** `75 s`, `2 min 5 s`. */
export function formatSeconds(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  if (whole < 60) {
    return `${whole} s`;
  }
  const rest = whole % 60;
  return `${Math.floor(whole / 60)} min${rest ? ` ${rest} s` : ''}`;
}

/**
 * Why the notebook's kernel is not running yet, under the kernel status: its pod waits for a
 * node, an image or quota. A live region, so a screen reader hears the reason change.
 */
export function KernelWaiting(props: { waiting: IKernelWait }): JSX.Element {
  const { reason, waiting_for, gives_up_in } = props.waiting;
  const left = gives_up_in === null ? '' : `, gives up in ${formatSeconds(gives_up_in)}`;
  return (
    <div className="labrig-Resources-waiting" role="status" data-testid="labrig-kernel-waiting">
      <span className="labrig-Resources-waiting-reason">Kernel waiting: {reason}</span>{' '}
      <span className="labrig-Item-secondary">
        (for {formatSeconds(waiting_for)}
        {left})
      </span>
    </div>
  );
}

export interface IKernelStopProps {
  stop: IStopEvent;
  /** Starts the notebook's kernel again; no button without it. */
  onRestart?: () => Promise<void>;
}

/**
 * The notebook's last stop (a memory limit, an evicted pod, a start given up), with a button
 * that starts its kernel again.
 */
export function KernelStop(props: IKernelStopProps): JSX.Element {
  const { stop, onRestart } = props;
  const [busy, setBusy] = React.useState(false);
  const [failed, setFailed] = React.useState<string | null>(null);
  const restart = async (): Promise<void> => {
    if (!onRestart) {
      return;
    }
    setBusy(true);
    setFailed(null);
    try {
      await onRestart();
    } catch (reason) {
      setFailed(reason instanceof Error ? reason.message : String(reason));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="labrig-Warning" role="status" data-testid="labrig-resources-stop">
      {stop.message}
      {onRestart && (
        <button
          type="button"
          className="jp-mod-styled labrig-Resources-restart"
          disabled={busy}
          onClick={() => void restart()}
        >
          Restart kernel
        </button>
      )}
      {failed && (
        <div className="labrig-Error" role="alert">
          The kernel did not restart: {failed}
        </div>
      )}
    </div>
  );
}
