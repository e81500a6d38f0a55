import * as React from 'react';
import { Root } from 'react-dom/client';

import { diffRows, finalMetrics, metricDelta } from '../compare/data';
import { CompareView } from '../compare/CompareView';
import { DatasetUsers } from '../datasets/DatasetUsers';
import { IJobLinks, ILineageGraph, ISnapshot } from '../links/api';
import { CompareWith, JobLinksView } from '../links/JobLinksView';
import {
  describeParameters,
  describeResources,
  formatDuration,
  layersOf,
  nodeDetails
} from '../links/LineageView';
import { checkTarget, EntityLink, ILabrigLinks, LinksContext, NO_LINKS } from '../links/links';
import { LabrigNavigator } from '../links/navigator';
import { SnapshotHeader } from '../links/SnapshotView';
import { LabrigModel } from '../model';
import { GpuHolders } from '../resources/GpuHolders';
import { LabrigAPIError, requestAPI } from '../request';
import { embedded } from './mocks/vega-embed';
import { mountPoint, unmountPoint } from './mountPoint';

jest.mock('../request', () => ({
  ...jest.requireActual('../request'),
  requestAPI: jest.fn()
}));

const mockRequest = requestAPI as jest.MockedFunction<typeof requestAPI>;
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const notFound = (message: string) =>
  new LabrigAPIError({ status: 404, reason: 'not_found', message });

/** Answers by endpoint; anything else is a 404. */
function serve(routes: { [endPoint: string]: unknown }): void {
  mockRequest.mockReset();
  mockRequest.mockImplementation((async (endPoint: string) => {
    if (endPoint in routes) {
      const value = routes[endPoint];
      if (value instanceof Error) {
        throw value;
      }
      return value;
    }
    throw notFound(`no ${endPoint}`);
  }) as typeof requestAPI);
}

const settle = () =>
  React.act(async () => {
    await new Promise(resolve => setTimeout(resolve, 0));
  });

function recording(): { links: ILabrigLinks; opened: string[] } {
  const opened: string[] = [];
  const record =
    (what: string, answer: string | null = null) =>
    async (...args: unknown[]) => {
      opened.push(`${what} ${args.filter(a => typeof a !== 'object').join(' ')}`.trim());
      return answer;
    };
  return {
    opened,
    links: {
      openJob: record('job'),
      openDataset: record('dataset'),
      openModelVersion: record('version'),
      openSnapshot: record('snapshot'),
      openNotebook: record('notebook'),
      compareJobs: record('compare-jobs'),
      compareVersions: record('compare-versions')
    }
  };
}

describe('links', () => {
  let host: HTMLElement;
  let root: Root;
  const render = (element: JSX.Element, links: ILabrigLinks = NO_LINKS) =>
    React.act(async () =>
      root.render(<LinksContext.Provider value={links}>{element}</LinksContext.Provider>)
    );
  const buttons = () => Array.from(host.querySelectorAll('button'));
  const byText = (text: string) => buttons().find(b => b.textContent?.trim() === text)!;
  const click = (element: HTMLElement) =>
    React.act(async () => {
      element.click();
    });

  beforeEach(() => {
    ({ host, root } = mountPoint());
  });

  afterEach(async () => {
    await unmountPoint(root, host);
  });

  it('opens its target, or says beside itself that the target was deleted', async () => {
    const open = jest.fn(async () => 'job 1a2b3c4d… was deleted');
    await render(
      <EntityLink open={open} label="Open job train">
        train
      </EntityLink>
    );
    await click(byText('train'));
    expect(open).toHaveBeenCalled();
    expect(host.querySelector('[role="status"]')!.textContent).toBe('job 1a2b3c4d… was deleted');
    expect(byText('train').getAttribute('aria-label')).toBe('Open job train');

    await render(
      <EntityLink open={open} exists={false}>
        train
      </EntityLink>
    );
    expect(host.querySelector('button')).toBeNull();
    expect(host.textContent).toBe('train (deleted)');
  });

  it('checks a target: gone on 404, the error otherwise, null when it loads', async () => {
    expect(await checkTarget(async () => 1, 'gone')).toBeNull();
    expect(await checkTarget(() => Promise.reject(notFound('x')), 'gone')).toBe('gone');
    const refused = new LabrigAPIError({ status: 503, reason: 'unavailable', message: 'down' });
    expect(await checkTarget(() => Promise.reject(refused), 'gone')).toBe('down');
  });

  it('shows what a job ran with and what it registered, each a link', async () => {
    const links: IJobLinks = {
      job_id: 'j1',
      name: 'train',
      status: 'SUCCEEDED',
      notebook_path: 'nb/train.ipynb',
      parameters: { lr: 0.05, epochs: 7 },
      snapshot: { sha256: 'ab'.repeat(32), exists: true },
      datasets: [
        {
          name: 'moons',
          version: 'abcdef0123',
          exists: true,
          current_version: 'abcdef0123',
          private: false,
          hidden: false
        },
        {
          name: 'gone',
          version: 'v1',
          exists: false,
          current_version: null,
          private: false,
          hidden: false
        }
      ],
      resources: {
        nodes: 1,
        procs_per_node: 2,
        world_size: 2,
        cpus: 1,
        memory: 2 * 1024 ** 3,
        gpus: 1,
        gpu_type: 'A100',
        gpus_granted: { '0': ['GPU-a'], '1': ['GPU-b'] }
      },
      model_versions: [
        { model: 'demo', version: 1, ref: 'demo/1', created_at: '', metrics: { loss: 0.25 } }
      ]
    };
    serve({ 'jobs/j1/links': links });
    const { links: fake, opened } = recording();
    await render(<JobLinksView jobId="j1" status="SUCCEEDED" />, fake);
    const text = host.textContent!;
    expect(text).toContain('lr=0.05, epochs=7');
    expect(text).toContain('2 ranks · 1 CPU, 2 GiB, 1 GPU (A100) per rank');
    expect(text).toContain('rank 1: GPU-b');
    expect(text).toContain('gone (deleted)');
    await click(byText('moons'));
    await click(byText('demo v1'));
    await click(byText(`nb/train.ipynb @ ${'ab'.repeat(4)}…`));
    expect(opened).toEqual(['dataset moons', 'version demo 1', `snapshot ${'ab'.repeat(32)}`]);
  });

  it("offers the same notebook's jobs first to compare with", async () => {
    const job = (id: string, notebook: string) => ({
      id,
      name: `run-${id}`,
      notebook_path: notebook,
      status: 'SUCCEEDED' as const,
      reason: null,
      created_at: '2026-12-01T00:00:00Z',
      started_at: null,
      finished_at: null,
      owner: null
    });
    serve({
      'jobs?limit=100': {
        items: [job('me', 'a.ipynb'), job('other', 'b.ipynb'), job('sibling', 'a.ipynb')],
        next_page_token: null
      }
    });
    const { links, opened } = recording();
    await render(<CompareWith job={job('me', 'a.ipynb')} />, links);
    const options = Array.from(host.querySelectorAll('option')).map(o => o.value);
    expect(options).toEqual(['sibling', 'other']);
    await click(byText('Compare'));
    expect(opened).toEqual(['compare-jobs me sibling']);
  });

  it('lists who uses a dataset behind a disclosure', async () => {
    serve({
      'datasets/moons/users': {
        dataset: 'moons',
        version: 'v1',
        mount_path: '/home/me/datasets/moons',
        kernels: [{ kernel_id: 'k1', notebook_path: 'nb/a.ipynb', execution_state: 'idle' }],
        jobs: [{ id: 'j1', name: 'train', status: 'RUNNING', notebook_path: 'nb/a.ipynb' }]
      }
    });
    const { links, opened } = recording();
    await render(<DatasetUsers name="moons" interval={60000} />, links);
    const toggle = host.querySelector('button[aria-label="Who uses moons"]') as HTMLElement;
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    expect(mockRequest).not.toHaveBeenCalled();
    await click(toggle);
    await settle();
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    expect(host.textContent).toContain('1 running kernel sees it at /home/me/datasets/moons');
    await click(byText('job train (j1)'));
    await click(byText('kernel of a.ipynb'));
    expect(opened).toEqual(['job j1', 'notebook nb/a.ipynb']);
  });

  it("lists this host's GPUs and who holds them", async () => {
    const gpu = (uuid: string, extra: object) => ({
      uuid,
      model: 'A100',
      holder: null,
      alive: true,
      notebook_path: null,
      kernel_id: null,
      job: null,
      ...extra
    });
    serve({
      'resource-gpus': {
        gpus: [
          gpu('GPU-0', {
            holder: 'job:1a2b3c4d5e/rank1',
            job: { id: '1a2b3c4d5e', rank: 1, name: 'train', status: 'RUNNING' }
          }),
          gpu('GPU-1', { holder: 'kernel:k9', kernel_id: 'k9', notebook_path: 'nb/b.ipynb' }),
          gpu('GPU-2', {}),
          gpu('GPU-3', {
            holder: 'job:gone/rank0',
            alive: false,
            job: { id: 'gone', rank: 0, name: null, status: null }
          })
        ]
      }
    });
    const { links, opened } = recording();
    await render(<GpuHolders refreshKey={1} />, links);
    const rows = Array.from(host.querySelectorAll('[data-testid="labrig-gpu"]')).map(
      row => row.textContent
    );
    expect(rows).toEqual([
      'GPU 0 A100held by job train rank 1 · running',
      'GPU 1 A100held by the kernel of b.ipynb',
      'GPU 2 A100free',
      'GPU 3 A100held by job gone (deleted) rank 0 (its process is gone; freed at the next grant)'
    ]);
    await click(byText('job train'));
    await click(byText('b.ipynb'));
    expect(opened).toEqual(['job 1a2b3c4d5e', 'notebook nb/b.ipynb']);
  });

  it('says there are no GPUs when the host has none', async () => {
    serve({ 'resource-gpus': { gpus: [] } });
    await render(<GpuHolders refreshKey={1} />);
    expect(host.querySelector('[data-testid="labrig-no-gpus"]')).not.toBeNull();
  });

  it('heads a snapshot with its notebook, parameters and jobs', async () => {
    const snapshot: ISnapshot = {
      sha256: 'cd'.repeat(32),
      notebook_path: 'nb/train.ipynb',
      jobs: [{ id: 'j2', name: 'train', status: 'SUCCEEDED', notebook_path: '', parameters: {} }],
      notebook: { cells: [], metadata: {} }
    };
    const { links, opened } = recording();
    await render(
      <SnapshotHeader snapshot={snapshot} context={{ parameters: { lr: 0.1 } }} />,
      links
    );
    expect(host.textContent).toContain('train.ipynb as its job ran it');
    expect(host.textContent).toContain('read-only');
    expect(host.querySelector('[data-testid="labrig-snapshot-parameters"]')!.textContent).toBe(
      'Parameters: lr=0.1'
    );
    await click(byText('train (j2)'));
    expect(opened).toEqual(['job j2']);
  });

  it('compares two sides: differences first, metric changes, curves overlaid', async () => {
    embedded.length = 0;
    const side = (title: string, lr: number, loss: number[]) => ({
      title,
      kind: 'job' as const,
      jobId: title,
      parameters: { lr, epochs: 7 },
      metrics: { loss: loss[loss.length - 1] },
      curves: { loss: loss.map((value, step) => ({ step, value, rank: 0 })) }
    });
    const load = () => Promise.resolve([side('a', 0.1, [1, 0.5]), side('b', 0.2, [1, 0.4])]);
    await render(<CompareView load={load as any} />);
    await settle();
    const rows = (id: string) =>
      Array.from(host.querySelectorAll(`[data-testid="${id}"] tbody tr`)).map(tr =>
        Array.from(tr.children).map(cell => cell.textContent)
      );
    expect(rows('labrig-compare-parameters')).toEqual([
      ['lr (differs)', '0.1', '0.2'],
      ['epochs', '7', '7']
    ]);
    expect(rows('labrig-compare-metrics')).toEqual([
      ['loss (differs)', '0.5', '0.4', '−0.1 (−20.0%)']
    ]);
    const spec = embedded[embedded.length - 1].spec;
    expect(new Set(spec.data.values.map((p: { series: string }) => p.series))).toEqual(
      new Set(['a', 'b'])
    );
  });

  it('diffs, deltas and final metrics', () => {
    expect(diffRows({ a: 1, b: 2 }, { b: 2, c: 3 }).map(r => [r.key, r.changed])).toEqual([
      ['a', true],
      ['c', true],
      ['b', false]
    ]);
    expect(metricDelta(0.5, 0.5)).toBe('=');
    expect(metricDelta(2, 3)).toBe('+1 (+50.0%)');
    expect(metricDelta(undefined, 3)).toBe('');
    expect(
      finalMetrics({
        loss: [
          { step: 0, value: 1, rank: 1 },
          { step: 0, value: 0.9, rank: 0 },
          { step: 1, value: 0.3, rank: 0 }
        ]
      })
    ).toEqual({ loss: 0.3 });
  });

  it('draws the lineage facts people read', () => {
    const graph: ILineageGraph = {
      model: 'm',
      version: 1,
      nodes: [
        {
          id: 'model_version:m/1',
          kind: 'model_version',
          label: 'm v1',
          exists: true,
          hidden: false
        },
        {
          id: 'dataset:a',
          kind: 'dataset',
          label: 'a',
          exists: true,
          hidden: false,
          version: null
        },
        {
          id: 'dataset:b',
          kind: 'dataset',
          label: 'b',
          exists: true,
          hidden: false,
          version: 'abc'
        }
      ],
      edges: []
    };
    expect(layersOf(graph).map(layer => layer.map(n => n.label))).toEqual([['a', 'b'], ['m v1']]);
    expect(nodeDetails(graph.nodes[1])).toEqual(['version not recorded']);
    expect(describeParameters({ lr: 3e-4, name: 'x' })).toBe('lr=3.00e-4, name="x"');
    expect(describeResources(undefined, 1)).toBe('1 rank');
    expect(formatDuration(42.4)).toBe('42 s');
    expect(formatDuration(600)).toBe('10 min');
    expect(formatDuration(5400)).toBe('1.5 h');
  });
});

describe('LabrigNavigator', () => {
  const shell = { add: jest.fn(), activateById: jest.fn(), widgets: () => [][Symbol.iterator]() };
  const app = {
    shell,
    commands: { execute: jest.fn() },
    serviceManager: {
      contents: {
        get: jest.fn(async (path: string) => {
          if (path === 'gone.ipynb') {
            throw Object.assign(new Error('missing'), { response: { status: 404 } });
          }
          return {};
        })
      }
    }
  };
  let model: LabrigModel;
  let navigator: LabrigNavigator;
  const openJobView = jest.fn();

  beforeEach(() => {
    model = new LabrigModel({ standby: 'never' });
    navigator = new LabrigNavigator({
      app: app as any,
      model,
      panelId: 'labrig-panel',
      openJobView,
      snapshots: { rendermime: null, editorServices: null }
    });
    [shell.add, shell.activateById, app.commands.execute, openJobView].forEach(fn =>
      fn.mockReset()
    );
  });

  afterEach(() => model.dispose());

  it('opens what exists and says what was deleted', async () => {
    serve({
      'jobs/1a2b3c4d5e6f': { id: '1a2b3c4d5e6f' },
      'models/demo/versions/2': { version: 2 },
      'datasets/moons': { name: 'moons' }
    });
    expect(await navigator.openJob('1a2b3c4d5e6f')).toBeNull();
    expect(openJobView).toHaveBeenCalledWith('1a2b3c4d5e6f');
    expect(await navigator.openJob('9f8e7d6c5b4a')).toBe('job 9f8e7d6c… was deleted');
    expect(openJobView).toHaveBeenCalledTimes(1);

    expect(await navigator.openModelVersion('demo', 2)).toBeNull();
    expect(model.modelsView).toEqual({ model: 'demo', version: 2 });
    expect(model.isExpanded('models')).toBe(true);
    expect(shell.activateById).toHaveBeenCalledWith('labrig-panel');
    expect(await navigator.openModelVersion('demo', 3)).toBe('demo v3 was deleted');

    expect(await navigator.openDataset('moons')).toBeNull();
    expect(model.revealedDataset).toBe('moons');
    expect(await navigator.openDataset('cifar')).toBe('dataset cifar was deleted');

    expect(await navigator.openNotebook('gone.ipynb')).toBe('gone.ipynb was deleted or moved');
    expect(await navigator.openNotebook('here.ipynb')).toBeNull();
    expect(app.commands.execute).toHaveBeenCalledWith('docmanager:open', { path: 'here.ipynb' });
  });

  it("passes on the server's word for a deleted snapshot", async () => {
    serve({});
    mockRequest.mockRejectedValueOnce(
      notFound('notebook snapshot abcdef01… was deleted: the jobs that ran it were deleted')
    );
    expect(await navigator.openSnapshot('ab'.repeat(32))).toContain('was deleted');
    expect(shell.add).not.toHaveBeenCalled();
  });

  it('refuses to compare a deleted job', async () => {
    serve({ 'jobs/a': { id: 'a' } });
    expect(await navigator.compareJobs('a', 'b')).toBe('job b was deleted');
    expect(shell.add).not.toHaveBeenCalled();
  });
});
