/**
 * The jobs list past its first page: pages fetched with `page_token` as the user scrolls,
 * kept in order while the poll re-reads the first page.
 *
 * The server lists jobs newest first by (created_at, id), with keyset page tokens, so a token
 * stays valid while new jobs arrive at the top.
 */
import { IJob, IPage } from '../api';

/**
 * The jobs loaded so far and the token of the page after them.
 */
export interface IPagedJobs {
  items: ReadonlyArray<IJob>;
  nextPageToken: string | null;
}

/** Statuses a job never leaves. */
export const FINAL_STATUSES: ReadonlyArray<string> = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

/**
 * Whether `a` lists after `b` (is older in the server's order).
 */
export function listsAfter(a: IJob, b: IJob): boolean {
  const ta = Date.parse(a.created_at);
  const tb = Date.parse(b.created_at);
  if (ta !== tb && !Number.isNaN(ta) && !Number.isNaN(tb)) {
    return ta < tb;
  }
  if (a.created_at !== b.created_at) {
    return a.created_at < b.created_at;
  }
  return a.id < b.id;
}

/**
 * Put a freshly read first page in front of what was loaded: loaded jobs in the range the first
 * page covers but absent from it were deleted and go; older ones stay, with the token after them.
 */
export function mergeFirstPage(loaded: IPagedJobs, head: IPage<IJob>): IPagedJobs {
  const last = head.items[head.items.length - 1];
  if (!head.next_page_token || !last) {
    return { items: head.items, nextPageToken: head.next_page_token ?? null };
  }
  const ids = new Set(head.items.map(job => job.id));
  const tail = loaded.items.filter(job => !ids.has(job.id) && listsAfter(job, last));
  return {
    items: tail.length ? [...head.items, ...tail] : head.items,
    nextPageToken: tail.length ? loaded.nextPageToken : head.next_page_token
  };
}

/**
 * Append the page that followed `loaded`.
 */
export function appendPage(loaded: IPagedJobs, page: IPage<IJob>): IPagedJobs {
  const ids = new Set(loaded.items.map(job => job.id));
  return {
    items: [...loaded.items, ...page.items.filter(job => !ids.has(job.id))],
    nextPageToken: page.next_page_token ?? null
  };
}

/**
 * Replace (or, for `null`, drop) loaded jobs by id.
 */
export function updateJobs(
  loaded: ReadonlyArray<IJob>,
  changes: Map<string, IJob | null>
): ReadonlyArray<IJob> {
  if (changes.size === 0) {
    return loaded;
  }
  const out: IJob[] = [];
  for (const job of loaded) {
    const change = changes.get(job.id);
    if (change === undefined) {
      out.push(job);
    } else if (change !== null) {
      out.push(change);
    }
  }
  return out;
}
