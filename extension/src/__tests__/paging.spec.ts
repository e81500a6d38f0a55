import { IJob } from '../api';
import { appendPage, listsAfter, mergeFirstPage, updateJobs } from '../jobs/paging';

function job(id: string, second: number, status: IJob['status'] = 'SUCCEEDED'): IJob {
  return {
    id,
    name: id,
    notebook_path: 'train.ipynb',
    status,
    reason: null,
    created_at: new Date(Date.UTC(2024, 0, 1, 0, 0, second)).toISOString(),
    started_at: null,
    finished_at: null,
    owner: null
  };
}

const ids = (items: ReadonlyArray<IJob>) => items.map(item => item.id);

describe('jobs paging', () => {
  it('orders like the server: newer first, then the larger id', () => {
    expect(listsAfter(job('a', 1), job('b', 2))).toBe(true);
    expect(listsAfter(job('b', 2), job('a', 1))).toBe(false);
    expect(listsAfter(job('a', 1), job('b', 1))).toBe(true);
    const micro = { ...job('x', 1), created_at: '2024-01-01T00:00:01.000500+00:00' };
    const plain = { ...job('y', 1), created_at: '2024-01-01T00:00:01+00:00' };
    expect(listsAfter(plain, micro)).toBe(true);
  });

  it('keeps the pages loaded after the first one when new jobs arrive on top', () => {
    // Loaded: e d | c b (first page of two, then one more page), token after b.
    const loaded = {
      items: [job('e', 5), job('d', 4), job('c', 3), job('b', 2)],
      nextPageToken: 'b'
    };
    // Two new jobs: the first page is now g f.
    const merged = mergeFirstPage(loaded, {
      items: [job('g', 7), job('f', 6)],
      next_page_token: 'f'
    });
    expect(ids(merged.items)).toEqual(['g', 'f', 'e', 'd', 'c', 'b']);
    expect(merged.nextPageToken).toBe('b');
  });

  it('drops loaded jobs that vanished from the range of the first page', () => {
    const loaded = { items: [job('e', 5), job('d', 4), job('c', 3)], nextPageToken: 'c' };
    const merged = mergeFirstPage(loaded, {
      items: [job('e', 5, 'FAILED'), job('c', 3)],
      next_page_token: 'c'
    });
    expect(ids(merged.items)).toEqual(['e', 'c']);
    expect(merged.items[0].status).toBe('FAILED');
    expect(merged.nextPageToken).toBe('c');
  });

  it('takes the first page as the whole list when it is the last page', () => {
    const loaded = { items: [job('e', 5), job('d', 4), job('c', 3)], nextPageToken: 'c' };
    const merged = mergeFirstPage(loaded, { items: [job('e', 5)], next_page_token: null });
    expect(ids(merged.items)).toEqual(['e']);
    expect(merged.nextPageToken).toBeNull();
  });

  it('uses the first page token until a further page was loaded', () => {
    const merged = mergeFirstPage(
      { items: [], nextPageToken: null },
      { items: [job('b', 2)], next_page_token: 't' }
    );
    expect(merged).toEqual({ items: [job('b', 2)], nextPageToken: 't' });
  });

  it('appends a page without repeating a job', () => {
    const next = appendPage(
      { items: [job('c', 3), job('b', 2)], nextPageToken: 'b' },
      { items: [job('b', 2), job('a', 1)], next_page_token: null }
    );
    expect(ids(next.items)).toEqual(['c', 'b', 'a']);
    expect(next.nextPageToken).toBeNull();
  });

  it('replaces and drops jobs by id', () => {
    const items = [job('c', 3), job('b', 2, 'RUNNING'), job('a', 1)];
    const changes = new Map<string, IJob | null>([
      ['b', job('b', 2, 'SUCCEEDED')],
      ['a', null]
    ]);
    const next = updateJobs(items, changes);
    expect(ids(next)).toEqual(['c', 'b']);
    expect(next[1].status).toBe('SUCCEEDED');
    expect(updateJobs(items, new Map())).toBe(items);
  });
});
