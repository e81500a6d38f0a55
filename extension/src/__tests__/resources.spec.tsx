import * as React from 'react';
import { createRoot, Root } from 'react-dom/client';

import { LabrigModel } from '../model';
import { LabrigPanelView } from '../panel/LabrigPanel';
import { IResourceShow, IResourceUsage } from '../resources/api';
import { ResourcesView } from '../resources/ResourcesView';
import { LabrigAPIError, requestAPI } from '../request';
import { mountPoint, unmountPoint } from './mountPoint';

jest.mock('../request', () => ({
  ...jest.requireActual('../request'),
  requestAPI: jest.fn()
}));
jest.mock('../resources/confirm', () => ({ confirmDialog: jest.fn() }));

const mockRequest = requestAPI as jest.MockedFunction<typeof requestAPI>;

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const NB = 'exp/train.ipynb';
const GIB = 2 ** 30;
const ENFORCEMENT = {
  cpu: { state: 'enforced', mechanism: 'cgroup v1 cpuset 0' },
  memory: { state: 'enforced', mechanism: 'cgroup v1 memory limit' },
  gpu: { state: 'advisory', mechanism: 'CUDA_VISIBLE_DEVICES by UUID' },
  disk: { state: 'advisory', mechanism: 'scratch usage measured against quota' }
} as const;

function show(overrides: Partial<IResourceShow> = {}): IResourceShow {
  return {
    notebook_path: NB,
    request: {
      notebook_path: NB,
      profile: 'custom',
      cpus: 1,
      memory: 2 * GIB,
      gpus: 1,
      gpu_type: null,
      disk: 5 * GIB
    },
    allocations: [
      {
        holder: 'kernel:k1',
        pid: 42,
        cpus: 1,
        memory: 2 * GIB,
        disk: 5 * GIB,
        gpus: [{ uuid: 'GPU-1234', model: 'A100' }],
        acquired_at: '2026-11-30T00:00:00+00:00'
      }
    ],
    owner: null,
    may_change: true,
    scratch_dir: '/tmp/scratch',
    enforcement: ENFORCEMENT,
    last_stop: null,
    ...overrides
  };
}

function usage(overrides: Partial<IResourceUsage> = {}): IResourceUsage {
  return {
    notebook_path: NB,
    running: true,
    kernels: ['kernel:k1'],
    sampled_at: '2026-11-30T00:00:00+00:00',
    cpu: { limit: 1, used: 0.5, percent: 50, ...ENFORCEMENT.cpu },
    memory: { limit: 2 * GIB, used: GIB, percent: 50, ...ENFORCEMENT.memory },
    gpus: [
      {
        uuid: 'GPU-1234',
        model: 'A100',
        memory_total: null,
        utilization: null,
        memory_used: null
      }
    ],
    gpu: { requested: 1, ...ENFORCEMENT.gpu },
    disk: {
      limit: 5 * GIB,
      used: 0,
      percent: 0,
      over_quota: false,
      warning: null,
      ...ENFORCEMENT.disk
    },
    last_stop: null,
    waiting: null,
    ...overrides
  };
}

const PROFILES = {
  default: 'custom',
  items: [
    {
      slug: 'small',
      display_name: 'Small',
      description: '1 CPU, 2 GiB memory',
      default: false,
      cpus: 1,
      memory: 2 * GIB,
      gpus: 0,
      gpu_type: null,
      disk: 5 * GIB,
      allow_custom: false,
      bounds: {}
    },
    {
      slug: 'custom',
      display_name: 'Custom',
      description: 'Your own values',
      default: true,
      cpus: 1,
      memory: 2 * GIB,
      gpus: 0,
      gpu_type: null,
      disk: 5 * GIB,
      allow_custom: true,
      bounds: {}
    }
  ]
};

function typeInto(input: HTMLInputElement, value: string): void {
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
  setter.call(input, value);
  input.dispatchEvent(new Event('input', { bubbles: true }));
}

function chooseOption(select: HTMLSelectElement, value: string): void {
  const setter = Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value')!.set!;
  setter.call(select, value);
  select.dispatchEvent(new Event('change', { bubbles: true }));
}

const flush = () => React.act(() => new Promise<void>(resolve => setTimeout(resolve, 0)));

describe('ResourcesView', () => {
  let host: HTMLElement;
  let root: Root;
  let calls: Array<[string, RequestInit]>;
  let current: IResourceUsage;
  let putReply: (body: { [key: string]: unknown }) => IResourceShow;
  let confirm: jest.Mock<Promise<boolean>, [string, string, string]>;

  const query = (selector: string) => host.querySelector(selector) as HTMLElement;
  const usageCalls = () => calls.filter(([path]) => path.startsWith('resource-usage/')).length;

  beforeEach(async () => {
    calls = [];
    current = usage();
    putReply = () => ({ ...show(), restarted_kernels: ['k1'] });
    confirm = jest.fn(async (_title: string, _body: string, _accept: string) => true);
    mockRequest.mockReset();
    mockRequest.mockImplementation((async (path: string, init: RequestInit = {}) => {
      calls.push([path, init]);
      if (path === 'resource-profiles') {
        return PROFILES;
      }
      if (path.startsWith('resource-usage/')) {
        return current;
      }
      if (init.method === 'PUT') {
        return putReply(JSON.parse(init.body as string));
      }
      return show();
    }) as typeof requestAPI);
    ({ host, root } = mountPoint());
    await React.act(async () => {
      root.render(<ResourcesView notebookPath={NB} confirm={confirm} interval={20} />);
    });
    await flush();
  });

  afterEach(async () => {
    await unmountPoint(root, host);
  });

  it('shows the allocation, live bars and enforced/advisory badges', () => {
    expect(query('[data-testid="labrig-resources-now"]').textContent).toContain(
      'custom · 1 CPU · 2 GiB memory · 1 GPU · 5 GiB scratch'
    );
    expect(query('[data-testid="labrig-resources-now"]').textContent).toContain(
      'GPU A100 GPU-1234'
    );
    const cpu = query('[data-testid="labrig-usage-cpu"]');
    expect(cpu.textContent).toContain('0.50 CPUs of 1 CPU');
    expect(cpu.querySelector('[role="meter"]')?.getAttribute('aria-valuenow')).toBe('50');
    expect(cpu.querySelector('[data-testid="labrig-enforcement"]')?.textContent).toBe('enforced');
    const memory = query('[data-testid="labrig-usage-memory"]');
    expect(memory.textContent).toContain('1 GiB of 2 GiB');
    const gpu = query('[data-testid="labrig-usage-gpu a100"]');
    expect(gpu.textContent).toContain('utilisation not reported (no NVML)');
    expect(gpu.querySelector('[data-testid="labrig-enforcement"]')?.textContent).toBe('advisory');
    expect(
      query('[data-testid="labrig-usage-disk"] [data-testid="labrig-enforcement"]').getAttribute(
        'title'
      )
    ).toBe('scratch usage measured against quota');
  });

  it('shows a figure no source reported as missing, never as zero', async () => {
    current = usage({
      disk: { ...usage().disk, used: null, percent: null },
      memory: { ...usage().memory, used: null, percent: null }
    });
    await React.act(() => new Promise<void>(resolve => setTimeout(resolve, 60)));
    expect(query('[data-testid="labrig-usage-disk"]').textContent).toContain('– of 5 GiB');
    expect(query('[data-testid="labrig-usage-disk"]').textContent).not.toContain('0 B');
    expect(query('[data-testid="labrig-usage-memory"]').textContent).toContain('– of 2 GiB');
  });

  it('polls usage while mounted and stops on unmount', async () => {
    const before = usageCalls();
    await React.act(() => new Promise<void>(resolve => setTimeout(resolve, 100)));
    const during = usageCalls();
    expect(during).toBeGreaterThan(before);
    await React.act(async () => root.unmount());
    await new Promise<void>(resolve => setTimeout(resolve, 100));
    expect(usageCalls()).toBe(during);
    root = createRoot(host); // for afterEach
  });

  it('shows why the kernel was stopped', async () => {
    current = usage({
      last_stop: {
        holder: 'kernel:k1',
        message: 'kernel stopped: memory limit 2 GiB reached',
        at: '2026-11-30T00:00:00+00:00'
      }
    });
    await React.act(() => new Promise<void>(resolve => setTimeout(resolve, 60)));
    expect(query('[data-testid="labrig-resources-stop"]').textContent).toBe(
      'kernel stopped: memory limit 2 GiB reached'
    );
  });

  it("says why the kernel's pod waits, as a live status under the kernel status", async () => {
    current = usage({
      running: false,
      kernels: [],
      waiting: {
        kernel_id: 'k2',
        reason: 'waiting for a node: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu',
        waiting_for: 12.4,
        gives_up_in: 287.6
      }
    });
    await React.act(() => new Promise<void>(resolve => setTimeout(resolve, 60)));
    const line = query('[data-testid="labrig-kernel-waiting"]');
    expect(line.getAttribute('role')).toBe('status');
    expect(line.textContent).toBe(
      'Kernel waiting: waiting for a node: 0/3 nodes are available: 3 Insufficient ' +
        'nvidia.com/gpu (for 12 s, gives up in 4 min 48 s)'
    );
    expect(query('[data-testid="labrig-resources-now"]').textContent).toContain(
      ' · kernel starting'
    );
    current = usage();
    await React.act(() => new Promise<void>(resolve => setTimeout(resolve, 60)));
    expect(query('[data-testid="labrig-kernel-waiting"]')).toBeNull();
  });

  it('offers a restart after a stop, while no kernel runs or waits', async () => {
    const restart = jest.fn(async (_path: string) => undefined);
    await React.act(async () => {
      root.render(
        <ResourcesView
          notebookPath={NB}
          confirm={confirm}
          interval={20}
          onRestartKernel={restart}
        />
      );
    });
    current = usage({
      running: false,
      kernels: [],
      last_stop: {
        holder: 'kernel:k1',
        message: 'kernel stopped: its pod was evicted (The node was low on resource: memory.)',
        at: '2026-11-30T00:00:00+00:00'
      }
    });
    await React.act(() => new Promise<void>(resolve => setTimeout(resolve, 60)));
    const stop = query('[data-testid="labrig-resources-stop"]');
    expect(stop.textContent).toContain('its pod was evicted');
    const button = stop.querySelector('button') as HTMLButtonElement;
    expect(button.textContent).toBe('Restart kernel');
    await React.act(async () => button.click());
    expect(restart).toHaveBeenCalledWith(NB);
    // Once a kernel runs again, there is nothing to restart.
    current = usage({ last_stop: current.last_stop });
    await React.act(() => new Promise<void>(resolve => setTimeout(resolve, 60)));
    expect(query('[data-testid="labrig-resources-stop"] button')).toBeNull();
  });

  it('says when the restart failed', async () => {
    const restart = jest.fn(async (_path: string) => {
      throw new Error('train.ipynb is not open');
    });
    await React.act(async () => {
      root.render(
        <ResourcesView
          notebookPath={NB}
          confirm={confirm}
          interval={20}
          onRestartKernel={restart}
        />
      );
    });
    current = usage({
      running: false,
      last_stop: { holder: 'kernel:k1', message: 'kernel not started', at: '2026-11-30T00:00:00' }
    });
    await React.act(() => new Promise<void>(resolve => setTimeout(resolve, 60)));
    await React.act(async () =>
      (query('[data-testid="labrig-resources-stop"] button') as HTMLButtonElement).click()
    );
    expect(query('[data-testid="labrig-resources-stop"] [role="alert"]').textContent).toBe(
      'The kernel did not restart: train.ipynb is not open'
    );
  });

  it('applies a profile after the confirmation that kernel state will be lost', async () => {
    const form = query('form');
    await React.act(async () =>
      chooseOption(form.querySelector('select') as HTMLSelectElement, 'small')
    );
    await flush();
    expect(form.querySelector('input[name="memory"]')).toBeNull();

    confirm.mockResolvedValueOnce(false);
    await React.act(async () =>
      (form.querySelector('button[type="submit"]') as HTMLElement).click()
    );
    expect(confirm).toHaveBeenCalledTimes(1);
    expect(confirm.mock.calls[0][1]).toContain('Its state will be lost');
    expect(calls.some(([, init]) => init.method === 'PUT')).toBe(false);

    await React.act(async () =>
      (form.querySelector('button[type="submit"]') as HTMLElement).click()
    );
    await flush();
    const put = calls.find(([, init]) => init.method === 'PUT')!;
    expect(put[0]).toBe('resources/exp/train.ipynb');
    expect(JSON.parse(put[1].body as string)).toEqual({ profile: 'small' });
    expect(query('[role="status"]').textContent).toBe(
      'Applied: 1 kernel restarted with the new resources.'
    );
  });

  it("sends custom values and shows the server's error naming the field", async () => {
    putReply = () => {
      throw new LabrigAPIError({
        status: 400,
        reason: 'invalid_input',
        field: 'memory',
        message: "memory: '4GB' is not a quantity; use a whole number of bytes or 4Gi, 4096Mi"
      });
    };
    const form = query('form');
    const memory = form.querySelector('input[name="memory"]') as HTMLInputElement;
    await React.act(async () => typeInto(memory, '4GB'));
    await React.act(async () =>
      (form.querySelector('button[type="submit"]') as HTMLElement).click()
    );
    await flush();
    const put = calls.find(([, init]) => init.method === 'PUT')!;
    expect(JSON.parse(put[1].body as string)).toEqual({ profile: 'custom', memory: '4GB' });
    // Beside the memory input, not in a banner; what was typed stays.
    const message = query('[data-testid="labrig-field-error-memory"]');
    expect(message.textContent).toContain("'4GB' is not a quantity");
    expect(host.querySelector('[data-testid="labrig-resources-error"]')).toBeNull();
    expect(memory.getAttribute('aria-invalid')).toBe('true');
    expect(memory.getAttribute('aria-describedby')).toBe(message.id);
    expect(memory.value).toBe('4GB');
  });
});

describe('the Resources section of the panel', () => {
  it('shows the notebook in focus, and the empty state without one', async () => {
    mockRequest.mockReset();
    mockRequest.mockImplementation((async (path: string) => {
      if (path === 'resource-profiles') {
        return PROFILES;
      }
      if (path.startsWith('resource-usage/')) {
        return usage();
      }
      if (path.startsWith('resources/')) {
        return show();
      }
      if (path === 'status') {
        return { version: '0.1.0', backends: {}, capabilities: {}, database: {} };
      }
      return { items: [], next_page_token: null };
    }) as typeof requestAPI);
    const model = new LabrigModel({ standby: 'never' });
    const host = document.createElement('div');
    document.body.appendChild(host);
    const root = createRoot(host);
    await React.act(async () => root.render(<LabrigPanelView model={model} />));
    await React.act(() => model.refresh());
    const section = host.querySelector('[data-testid="labrig-section-resources"]') as HTMLElement;
    expect(section.querySelector('[data-testid="labrig-empty"]')?.textContent).toContain(
      'No resource requests yet'
    );

    await React.act(async () => model.setFocusedNotebook(NB));
    await flush();
    expect(section.querySelector('[data-testid="labrig-empty"]')).toBeNull();
    expect(section.querySelector('[data-testid="labrig-resources-view"]')?.textContent).toContain(
      'Notebook: train.ipynb'
    );

    await unmountPoint(root, host);
    model.dispose();
  });
});
