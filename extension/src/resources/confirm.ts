/**
 * The confirmation asked before a kernel restarts with new resources.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';

/**
 * Ask the user; resolves true only when they chose the accept button.
 */
export async function confirmDialog(title: string, body: string, accept: string): Promise<boolean> {
  const result = await showDialog({
    title,
    body,
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: accept })]
  });
  return result.button.accept;
}

/**
 * A notification that stays until dismissed, for what the user must not miss.
 */
export function notifyError(message: string): void {
  Notification.error(message, { autoClose: false });
}
