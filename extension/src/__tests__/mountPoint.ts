/**
 * A fresh element attached to the document with a React root on it, for one test; and its
 * removal afterwards (unmounting first, so components disconnect their polls).
 */
import * as React from 'react';
import { createRoot, Root } from 'react-dom/client';

export function mountPoint(): { host: HTMLElement; root: Root } {
  const host = document.createElement('div');
  document.body.appendChild(host);
  return { host, root: createRoot(host) };
}

export async function unmountPoint(root: Root, host: HTMLElement): Promise<void> {
  await React.act(async () => root.unmount());
  host.remove();
}
