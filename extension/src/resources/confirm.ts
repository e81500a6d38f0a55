/**
 * The confirmation asked before a kernel restarts with new resources.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';

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
