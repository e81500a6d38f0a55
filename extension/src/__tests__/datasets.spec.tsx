import * as React from 'react';
import { Root } from 'react-dom/client';

import { IDatasetInfo, IWarmUp } from '../datasets/api';
import { AddDatasetForm, DatasetsView, POLL_MS, describeProgress } from '../datasets/DatasetsView';
import { describeProtection } from '../datasets/MountProtection';
import { LabrigAPIError, requestAPI } from '../request';
import { mountPoint, unmountPoint } from './mountPoint';

jest.mock('../request', () => ({
  ...jest.requireActual('../request'),
  requestAPI: jest.fn()
}));

const mockRequest = requestAPI as jest.MockedFunction<typeof requestAPI>;

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

function dataset(overrides: Partial<IDatasetInfo> = {}): IDatasetInfo {
  return {
    name: 'mnist',
    source_url: 's3://bucket/mnist/',
    read_only: true,
    include: null,
    version: 'abcdef0123456789',
    created_at: '2024-01-01T00:00:00Z',
    owner: null,
    private: false,
    options: {},
    admin: false,
    pinned: false,
    mount_path: null,
    files: 40,
    bytes: 4 * 2 ** 20,
    complete: false,
    cached_bytes: 2 ** 20,
    warmup: null,
    ...overrides
  };
}

function warm(overrides: Partial<IWarmUp> = {}): IWarmUp {
  return {
    id: 'w1',
    dataset: 'mnist',
    state: 'running',
    files_total: 40,
    files_done: 10,
    bytes_total: 4 * 2 ** 20,
    bytes_done: 2 ** 20,
    percent: 25,
    throughput_bytes_per_second: 2 ** 20,
    eta_seconds: 3,
    ...overrides
  };
}

function typeInto(input: HTMLInputElement, value: string): void {
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
  setter.call(input, value);
  input.dispatchEvent(new Event('input', { bubbles: true }));
}

describe('Datasets section', () => {
  let host: HTMLElement;
  let root: Root;
  let calls: Array<[string, string]>;
  let replies: { [key: string]: unknown };

  const button = (text: string): HTMLButtonElement =>
    Array.from(host.querySelectorAll('button')).find(b => b.textContent === text)!;

  beforeEach(() => {
    jest.useFakeTimers();
    calls = [];
    replies = {};
    mockRequest.mockReset();
    mockRequest.mockImplementation((async (endPoint: string, init: RequestInit = {}) => {
      const key = `${init.method ?? 'GET'} ${endPoint}`;
      calls.push([init.method ?? 'GET', endPoint]);
      const reply = replies[key];
      if (reply instanceof LabrigAPIError) {
        throw reply;
      }
      if (Array.isArray(reply)) {
        return reply.length > 1 ? reply.shift() : reply[0];
      }
      return reply;
    }) as typeof requestAPI);
    ({ host, root } = mountPoint());
  });

  afterEach(async () => {
    await unmountPoint(root, host);
    jest.useRealTimers();
  });

  it('lists version, size and cached share', async () => {
    await React.act(async () => {
      root.render(<DatasetsView items={[dataset()]} onChanged={() => undefined} />);
    });
    const facts = host.querySelector('[data-testid="labrig-dataset-facts"]')!.textContent;
    expect(facts).toContain('abcdef01');
    expect(facts).toContain('40 files, 4 MiB');
    expect(facts).toContain('25% cached');
  });

  it('polls warm-up progress every 500 ms while it runs and then stops', async () => {
    const onChanged = jest.fn();
    replies['POST datasets/mnist/warm'] = warm({ files_done: 0, percent: 0 });
    replies['GET datasets/mnist/warm'] = [
      warm({ files_done: 20, percent: 50 }),
      warm({ state: 'succeeded', files_done: 40, percent: 100, eta_seconds: null })
    ];
    await React.act(async () => {
      root.render(<DatasetsView items={[dataset()]} onChanged={onChanged} />);
    });
    await React.act(async () => button('Warm').click());
    expect(button('Cancel')).toBeTruthy();
    await React.act(async () => {
      jest.advanceTimersByTime(POLL_MS);
    });
    expect(host.querySelector('[data-testid="labrig-warmup"]')!.textContent).toContain(
      '20/40 files'
    );
    await React.act(async () => {
      jest.advanceTimersByTime(POLL_MS);
    });
    expect(onChanged).toHaveBeenCalled();
    const polls = calls.filter(([m, p]) => m === 'GET' && p === 'datasets/mnist/warm').length;
    await React.act(async () => {
      jest.advanceTimersByTime(5 * POLL_MS);
    });
    expect(calls.filter(([m, p]) => m === 'GET' && p === 'datasets/mnist/warm').length).toBe(polls);
    expect(button('Warm')).toBeTruthy();
  });

  it('stops polling when unmounted, and cancel asks the server', async () => {
    replies['GET datasets/mnist/warm'] = warm();
    replies['DELETE datasets/mnist/warm'] = warm({ state: 'cancelled' });
    await React.act(async () => {
      root.render(
        <DatasetsView items={[dataset({ warmup: warm() })]} onChanged={() => undefined} />
      );
    });
    await React.act(async () => {
      jest.advanceTimersByTime(POLL_MS);
    });
    await React.act(async () => button('Cancel').click());
    expect(calls).toContainEqual(['DELETE', 'datasets/mnist/warm']);
    expect(host.textContent).toContain('cancelled');

    await React.act(async () => root.render(<div />));
    const before = calls.length;
    await React.act(async () => {
      jest.advanceTimersByTime(10 * POLL_MS);
    });
    expect(calls.length).toBe(before);
  });

  it('shows the refresh diff before switching versions', async () => {
    const onChanged = jest.fn();
    replies['POST datasets/mnist/refresh'] = {
      dataset: 'mnist',
      current_version: 'abcdef0123456789',
      new_version: '99998888aaaabbbb',
      changed: true,
      added: 2,
      removed: 1,
      modified: 3
    };
    replies['POST datasets/mnist/refresh/confirm'] = dataset({ version: '99998888aaaabbbb' });
    await React.act(async () => {
      root.render(<DatasetsView items={[dataset()]} onChanged={onChanged} />);
    });
    await React.act(async () => button('Refresh').click());
    const dialog = host.querySelector('[data-testid="labrig-refresh-dialog"]')!;
    expect(dialog.textContent).toContain('2 added, 1 removed, 3 modified');
    await React.act(async () => button('Switch to 99998888').click());
    expect(calls).toContainEqual(['POST', 'datasets/mnist/refresh/confirm']);
    expect(onChanged).toHaveBeenCalled();
    expect(host.querySelector('[data-testid="labrig-refresh-dialog"]')).toBeNull();
  });

  it('mounts and shows errors readably', async () => {
    const onChanged = jest.fn();
    replies['POST datasets/mnist/mount'] = new LabrigAPIError({
      status: 409,
      reason: 'conflict',
      message: "dataset 'mnist' is not warmed yet; run `labrig datasets warm mnist`"
    });
    await React.act(async () => {
      root.render(<DatasetsView items={[dataset()]} onChanged={onChanged} />);
    });
    await React.act(async () => button('Mount').click());
    expect(host.querySelector('[role="alert"]')!.textContent).toContain('is not warmed yet');
    expect(onChanged).not.toHaveBeenCalled();
  });

  it('adds a dataset and shows what the server refused', async () => {
    const onAdded = jest.fn();
    replies['POST datasets'] = new LabrigAPIError({
      status: 400,
      reason: 'invalid_input',
      field: 'source_url',
      message: "dataset 'x': source_url scheme 'ftp' is not supported"
    });
    await React.act(async () => {
      root.render(<AddDatasetForm onAdded={onAdded} />);
    });
    const inputs = host.querySelectorAll('input');
    await React.act(async () => {
      typeInto(inputs[0], 'x');
      typeInto(inputs[1], 'ftp://host/x');
    });
    await React.act(async () => button('Add dataset').click());
    expect(host.querySelector('[role="alert"]')!.textContent).toContain("'ftp' is not supported");
    replies['POST datasets'] = dataset({ name: 'x' });
    await React.act(async () => button('Add dataset').click());
    expect(onAdded).toHaveBeenCalled();
    expect(inputs[0].value).toBe('');
  });

  it('describes progress with throughput and ETA', () => {
    expect(describeProgress(warm())).toBe('10/40 files · 1 MiB of 4 MiB · 1 MiB/s · ETA 3 s');
  });

  it('says what a cluster cache cannot report instead of showing a wrong number', async () => {
    const fluid = warm({ files_done: null, note: 'Fluid reports the bytes cached, not files' });
    expect(describeProgress(fluid)).toBe(
      '40 files (count not reported) · 1 MiB of 4 MiB · 1 MiB/s · ETA 3 s'
    );
    replies['GET datasets/mnist/warm'] = fluid;
    const item = dataset({ cached_bytes: null, cache_note: 'a PVC', warmup: fluid });
    await React.act(async () => {
      root.render(<DatasetsView items={[item]} onChanged={() => undefined} />);
    });
    const facts = host.querySelector('[data-testid="labrig-dataset-facts"]')!.textContent;
    expect(facts).toContain('cache size not reported');
    expect(facts).not.toContain('% cached');
    const text = host.querySelector('[data-testid="labrig-warmup"]')!.textContent;
    expect(text).toContain('count not reported');
    expect(text).not.toContain('0/40');
    expect(host.querySelector('[data-testid="labrig-warmup-note"]')!.textContent).toContain(
      'not files'
    );
  });

  it('describes a PVC warm-up without a size it cannot know', () => {
    const pvc = warm({
      state: 'succeeded',
      files_done: null,
      bytes_done: null,
      percent: null,
      throughput_bytes_per_second: null,
      eta_seconds: null
    });
    expect(describeProgress(pvc)).toBe(
      '40 files (count not reported) · 4 MiB (size cached not reported)'
    );
  });

  describe('mount protection', () => {
    const protectionOf = async (item: IDatasetInfo): Promise<HTMLElement | null> => {
      await React.act(async () => {
        root.render(<DatasetsView items={[item]} onChanged={() => undefined} />);
      });
      return host.querySelector<HTMLElement>('[data-testid="labrig-dataset-protection"]');
    };

    it('says a read-only bind mount or a private copy protects the cache', async () => {
      const bind = await protectionOf(
        dataset({ mount_path: '/mnt/mnist', mount_protection: 'read-only (bind mount)' })
      );
      expect(bind!.dataset.level).toBe('safe');
      expect(bind!.textContent).toContain('read-only bind mount');
      expect(bind!.textContent).toContain('writes through it fail');
      const reflink = await protectionOf(
        dataset({ mount_path: '/mnt/mnist', mount_protection: 'private copy on write (reflink)' })
      );
      expect(reflink!.textContent).toContain('private reflink copy');
      expect(reflink!.getAttribute('role')).toBeNull();
    });

    it('warns with the server reason when the host gave no protection', async () => {
      const why =
        'ext4 under /mnt cannot clone files of the cache (reflink: Operation not supported). ' +
        "Root or the cache's owner can change the shared cache through this mount";
      const note = await protectionOf(
        dataset({ mount_path: '/mnt/mnist', mount_protection: `not protected: ${why}` })
      );
      expect(note!.dataset.level).toBe('warn');
      expect(note!.getAttribute('role')).toBe('note');
      expect(note!.textContent).toBe(`Not protected: ${why}`);
    });

    it('shows nothing for a dataset that is not mounted', async () => {
      expect(await protectionOf(dataset({ mount_protection: null }))).toBeNull();
    });

    it('never calls an unknown or missing protection safe', () => {
      expect(describeProtection(null)).toMatchObject({
        level: 'warn',
        label: 'protection unknown'
      });
      expect(describeProtection(undefined).level).toBe('warn');
      expect(describeProtection('not mounted: its read-only bind mount is gone')).toEqual({
        level: 'warn',
        label: 'not mounted',
        detail: 'its read-only bind mount is gone'
      });
      const future = 'sealed (fs-verity)' as unknown as Parameters<typeof describeProtection>[0];
      expect(describeProtection(future)).toEqual({
        level: 'warn',
        label: 'protection',
        detail: 'sealed (fs-verity)'
      });
      expect(describeProtection('private copy (full copy)').level).toBe('safe');
    });
  });
});
