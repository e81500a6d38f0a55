import * as React from 'react';
import { createRoot, Root } from 'react-dom/client';

import { IJob } from '../api';
import { LabrigModel } from '../model';
import { LabrigPanel, LabrigPanelView } from '../panel/LabrigPanel';
import { LabrigAPIError, requestAPI } from '../request';
import { FakeServer } from './fakeServer';
import { mountPoint, unmountPoint } from './mountPoint';

jest.mock('../request', () => ({
  ...jest.requireActual('../request'),
  requestAPI: jest.fn()
}));

const mockRequest = requestAPI as jest.MockedFunction<typeof requestAPI>;

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

function typeInto(input: HTMLInputElement, value: string): void {
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
  setter.call(input, value);
  input.dispatchEvent(new Event('input', { bubbles: true }));
}

/** Finished jobs, newest first as the server lists them. */
function manyJobs(count: number): IJob[] {
  return Array.from({ length: count }, (_, i) => ({
    id: String(1000 - i),
    name: `job-${i}`,
    notebook_path: 'train.ipynb',
    status: 'SUCCEEDED',
    reason: null,
    created_at: new Date(Date.UTC(2024, 0, 1, 0, 0, count - i)).toISOString(),
    started_at: null,
    finished_at: null,
    owner: null
  }));
}

describe('LabrigPanelView', () => {
  let server: FakeServer;
  let model: LabrigModel;
  let host: HTMLElement;
  let root: Root;

  const query = (selector: string) => host.querySelector(selector) as HTMLElement;
  const section = (id: string) => query(`[data-testid="labrig-section-${id}"]`);

  beforeEach(async () => {
    server = new FakeServer();
    mockRequest.mockReset();
    mockRequest.mockImplementation(server.handle as typeof requestAPI);
    model = new LabrigModel({ standby: 'never' });
    ({ host, root } = mountPoint());
    await React.act(async () => {
      root.render(<LabrigPanelView model={model} />);
    });
  });

  afterEach(async () => {
    await unmountPoint(root, host);
    model.dispose();
  });

  it('shows loading, then the four empty states and the status line', async () => {
    expect(section('jobs').textContent).toContain('Loading');

    await React.act(() => model.refresh());

    expect(query('[data-testid="labrig-status"]').textContent).toContain('v0.1.0');
    expect(query('[data-testid="labrig-status"]').textContent).toContain('local backend');
    const empties: { [id: string]: string } = {
      resources: "No resource requests yet — request CPU, memory or GPUs for a notebook's kernel",
      datasets: 'No datasets yet — add one with labrig datasets add',
      jobs: 'No jobs yet — open a notebook and click Run as job',
      models: 'No models yet — register one with labrig.models.register() or create one below'
    };
    for (const [id, text] of Object.entries(empties)) {
      const empty = section(id).querySelector('[data-testid="labrig-empty"]');
      expect(empty?.textContent).toBe(text);
    }
  });

  it('shows a section error as an alert', async () => {
    server.failures.datasets = new LabrigAPIError({
      status: 500,
      reason: 'x',
      message: 'The catalog is unavailable.'
    });
    await React.act(() => model.refresh());

    const alert = section('datasets').querySelector('[role="alert"]');
    expect(alert?.textContent).toBe('The catalog is unavailable.');
    expect(section('models').querySelector('[role="alert"]')).toBeNull();
  });

  it('collapses a section with its header button', async () => {
    await React.act(() => model.refresh());
    const toggle = section('models').querySelector('button[aria-expanded]') as HTMLButtonElement;
    expect(toggle.getAttribute('aria-expanded')).toBe('true');

    await React.act(async () => toggle.click());

    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    expect(model.isExpanded('models')).toBe(false);
    expect((section('models').querySelector('.labrig-Section-body') as HTMLElement).hidden).toBe(
      true
    );
  });

  it('highlights the selected notebook in the Jobs section', async () => {
    await React.act(() => model.refresh());
    await React.act(async () => model.selectNotebook('exp/train.ipynb'));

    const selected = section('jobs').querySelector('[data-testid="labrig-selected-notebook"]');
    expect(selected?.textContent).toContain('Selected notebook: train.ipynb');
  });

  it("creates a model from the form and shows the server's error inline", async () => {
    await React.act(() => model.refresh());
    const open = section('models').querySelector('.labrig-NewModel-open') as HTMLButtonElement;
    await React.act(async () => open.click());

    const form = section('models').querySelector('form') as HTMLFormElement;
    const name = form.querySelector('input[name="name"]') as HTMLInputElement;
    const submit = form.querySelector('button[type="submit"]') as HTMLButtonElement;

    await React.act(async () => typeInto(name, 'bad name'));
    await React.act(async () => submit.click());
    const alert = form.querySelector('[role="alert"]');
    expect(alert?.textContent).toContain('is not a valid model name');
    expect(name.getAttribute('aria-invalid')).toBe('true');

    await React.act(async () => typeInto(name, 'resnet50'));
    await React.act(async () => submit.click());

    expect(section('models').querySelector('form')).toBeNull();
    const items = Array.from(section('models').querySelectorAll('[data-testid="labrig-model"]'));
    expect(items.map(item => item.querySelector('.labrig-Item-name')?.textContent)).toEqual([
      'resnet50'
    ]);
    expect(section('models').querySelector('[role="status"]')?.textContent).toBe(
      'Created model resnet50.'
    );
  });

  it('renders a window of a long jobs list and fetches the next page when scrolled near its end', async () => {
    server.lists.jobs = manyJobs(120);
    await React.act(() => model.refresh());
    const rows = () => section('jobs').querySelectorAll('[data-testid="labrig-job"]');
    expect(rows().length).toBeGreaterThan(0);
    expect(rows().length).toBeLessThan(20);
    expect(section('jobs').querySelector('.labrig-ShowMore')).toBeNull();
    expect(server.calls.some(([endPoint]) => endPoint.includes('page_token'))).toBe(false);

    const scroller = query('[data-testid="labrig-jobs-list"]');
    Object.defineProperty(scroller, 'scrollTop', { value: 40 * 44, configurable: true });
    await React.act(async () => {
      scroller.dispatchEvent(new Event('scroll'));
    });
    await React.act(() => new Promise(resolve => setTimeout(resolve, 0)));

    expect(server.calls.map(([endPoint]) => endPoint)).toContain('jobs?limit=50&page_token=50');
    expect(model.section('jobs').items).toHaveLength(100);
    // Rows 40-47 are in view, 6 more render on each side.
    expect(rows()[0].querySelector('.labrig-Item-name')?.textContent).toBe('job-34');
    expect(rows()).toHaveLength(20);
  });

  it('shows a failed further page as an alert and tries again only after the next refresh', async () => {
    server.lists.jobs = manyJobs(120);
    let failing = true;
    mockRequest.mockImplementation((async (endPoint: string, init?: RequestInit) => {
      if (failing && endPoint.includes('page_token')) {
        server.calls.push([endPoint, init ?? {}]);
        throw new LabrigAPIError({ status: 503, reason: 'x', message: 'The database is busy.' });
      }
      return server.handle(endPoint, init);
    }) as typeof requestAPI);
    await React.act(() => model.refresh());
    const scroller = query('[data-testid="labrig-jobs-list"]');
    Object.defineProperty(scroller, 'scrollTop', { value: 40 * 44, configurable: true });
    await React.act(async () => {
      scroller.dispatchEvent(new Event('scroll'));
    });
    for (let i = 0; i < 5; i++) {
      await React.act(() => new Promise(resolve => setTimeout(resolve, 0)));
    }
    const more = () => server.calls.filter(([endPoint]) => endPoint.includes('page_token'));
    expect(more()).toHaveLength(1);
    expect(section('jobs').querySelector('[role="alert"]')?.textContent).toBe(
      'The database is busy.'
    );

    failing = false;
    await React.act(() => model.refresh());
    for (let i = 0; i < 5; i++) {
      await React.act(() => new Promise(resolve => setTimeout(resolve, 0)));
    }
    expect(more()).toHaveLength(2);
    expect(model.section('jobs').items).toHaveLength(100);
    expect(section('jobs').querySelector('[role="alert"]')).toBeNull();
  });

  it('lists the job schedules in the Jobs section, or says there are none', async () => {
    await React.act(() => model.refresh());
    expect(section('jobs').querySelector('[data-testid="labrig-schedules-empty"]')).not.toBeNull();

    server.lists['job-schedules'] = [
      {
        id: 's1',
        name: 'nightly',
        cron: '0 3 * * *',
        notebook_path: 'train.ipynb',
        paused: true,
        created_at: '2024-01-01T00:00:00Z',
        last_job_id: null,
        next_run_at: null
      }
    ];
    await React.act(() => model.refresh());
    const row = section('jobs').querySelector('[data-testid="labrig-schedule"]') as HTMLElement;
    expect(row.textContent).toContain('nightly');
    expect(row.querySelector('[data-testid="labrig-schedule-next"]')?.textContent).toBe('paused');
  });

  it('disconnects from the model signal on unmount', async () => {
    const disconnect = jest.spyOn(model.changed, 'disconnect');
    expect(disconnect).not.toHaveBeenCalled();

    await React.act(async () => root.unmount());

    expect(disconnect).toHaveBeenCalledTimes(1);
    root = createRoot(host);
  });
});

describe('LabrigPanel', () => {
  it('is the labrig sidebar widget', () => {
    const model = new LabrigModel();
    const panel = new LabrigPanel(model);
    expect(panel.id).toBe('labrig-panel');
    expect(panel.title.caption).toBe('labrig');
    expect(panel.title.icon).toBeTruthy();
    panel.dispose();
    model.dispose();
  });
});
