/**
 * Tells the user, over the notebook, why its kernel was stopped ("kernel stopped: memory limit
 * 4 GiB reached"), instead of leaving them with a silently dead or restarted kernel.
 */
import { ISignal } from '@lumino/signaling';

import { basename } from '../panel/format';
import { showResources } from './api';
import { notifyError } from './confirm';

/** What of a notebook panel this needs (a `NotebookPanel` fits). */
export interface IWatchedNotebook {
  context: { path: string };
  sessionContext: { statusChanged: ISignal<unknown, string> };
}

const STOPPED = new Set(['autorestarting', 'restarting', 'dead']);

/**
 * Watch one notebook: when its kernel dies or restarts, ask the server whether labrig stopped it
 * and say why. Stops recorded before the watch started are not repeated.
 */
export function watchKernelStops(
  notebook: IWatchedNotebook,
  notify: (message: string) => void = notifyError,
  delayMs = 1000
): Promise<void> {
  let seen: string | null = null;
  const latest = async (): Promise<string | null> => {
    try {
      const stop = (await showResources(notebook.context.path)).last_stop;
      if (stop && stop.at !== seen) {
        seen = stop.at;
        return stop.message;
      }
    } catch {
      // A path labrig does not manage (or a server without labrig): nothing to say.
    }
    return null;
  };
  notebook.sessionContext.statusChanged.connect((_, status) => {
    if (!STOPPED.has(status)) {
      return;
    }
    setTimeout(() => {
      void latest().then(message => {
        if (message) {
          notify(`${basename(notebook.context.path)}: ${message}`);
        }
      });
    }, delayMs);
  });
  return latest().then(() => undefined);
}
