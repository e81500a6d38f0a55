import * as React from 'react';
import { createRoot, Root } from 'react-dom/client';

import { IModel } from '../api';
import { IModelVersion, listVersions, loadSnippet, parseMetrics } from '../models/api';
import { MetricPlot } from '../models/MetricPlot';
import { ModelsBrowser } from '../models/ModelsBrowser';
import { submitRegistration, suggestName } from '../models/RegisterDialog';
import { ILabrigLinks, LinksContext, NO_LINKS } from '../links/links';
import { LabrigAPIError, requestAPI } from '../request';
import { mountPoint, unmountPoint } from './mountPoint';

jest.mock('../request', () => ({
  ...jest.requireActual('../request'),
  requestAPI: jest.fn()
}));

const mockRequest = requestAPI as jest.MockedFunction<typeof requestAPI>;

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

function version(
  n: number,
  metrics: { [k: string]: number },
  aliases: string[] = []
): IModelVersion {
  return {
    model: 'resnet-mini',
    version: n,
    ref: `resnet-mini/${n}`,
    created_at: '2026-11-30T00:00:00Z',
    user: 'ana',
    note: n === 2 ? 'better' : '',
    kind: 'file',
    metrics,
    params: { lr: 0.1 },
    tags: n === 2 ? { team: 'vision' } : {},
    lineage: {
      job_id: 'job-7',
      rank: 0,
      notebook_path: 'nb/train.ipynb',
      datasets: { 'mnist-mini': 'abcdef0123456789' },
      environment: { torch: '2.13.0' },
      git: { commit: '0123456789abcdef0123', dirty: false }
    },
    size: 2048,
    file_count: 1,
    aliases,
    files: [{ path: 'model.pt', sha256: 'ab'.repeat(32), size: 2048 }]
  };
}

const MODELS: IModel[] = [
  {
    name: 'resnet-mini',
    description: 'tiny',
    tags: {},
    created_at: '2026-11-30T00:00:00Z',
    owner: null,
    latest_version: 3,
    aliases: { production: 2 }
  }
];

const VERSIONS = [
  version(3, { acc: 0.8, loss: 0.4 }),
  version(2, { acc: 0.95, loss: 0.2 }, ['production']),
  version(1, { acc: 0.5 })
];

describe('models browser', () => {
  let host: HTMLElement;
  let root: Root;
  let calls: Array<[string, RequestInit]>;

  const query = (selector: string) => host.querySelector(selector) as HTMLElement;
  const all = (selector: string) => Array.from(host.querySelectorAll(selector)) as HTMLElement[];
  const click = async (element: HTMLElement) => {
    await React.act(async () => {
      element.click();
    });
  };
  const type = (input: HTMLInputElement, value: string) => {
    const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
    setter.call(input, value);
    input.dispatchEvent(new Event('input', { bubbles: true }));
  };
  const button = (text: string) =>
    all('button').find(b => b.textContent?.trim() === text) as HTMLButtonElement;

  beforeEach(async () => {
    calls = [];
    mockRequest.mockReset();
    mockRequest.mockImplementation((async (endPoint: string, init: RequestInit = {}) => {
      calls.push([endPoint, init]);
      const url = new URL(endPoint, 'http://x/');
      if (url.pathname === '/models/resnet-mini/versions') {
        // Sorted and filtered as the server does.
        const sort = url.searchParams.get('sort') ?? 'version';
        const desc = url.searchParams.get('order') !== 'asc';
        const tag = url.searchParams.get('tag');
        if (tag && !tag.includes('=')) {
          throw new LabrigAPIError({
            status: 400,
            reason: 'invalid_input',
            field: 'tag',
            message: `tag filter '${tag}' is not KEY=VALUE, e.g. team=vision`
          });
        }
        const key = (v: IModelVersion) =>
          sort === 'version' ? v.version : (v.metrics[sort.slice(7)] as number);
        const items = VERSIONS.filter(v => key(v) !== undefined).sort(
          (a, b) => (key(a) - key(b)) * (desc ? -1 : 1)
        );
        return { items, next_page_token: null };
      }
      if (url.pathname === '/models/resnet-mini/versions/2/lineage') {
        return {
          model: 'resnet-mini',
          version: 2,
          nodes: [
            {
              id: 'dataset:mnist-mini@abc',
              kind: 'dataset',
              label: 'mnist-mini',
              exists: true,
              name: 'mnist-mini',
              version: 'abcdef0123456789',
              current_version: 'ffff',
              current: false
            },
            {
              id: 'snapshot:aa',
              kind: 'snapshot',
              label: 'train.ipynb',
              exists: false,
              sha256: 'aa'.repeat(32),
              notebook_path: 'nb/train.ipynb',
              parameters: { lr: 0.1 }
            },
            {
              id: 'job:job-7',
              kind: 'job',
              label: 'train',
              exists: true,
              job_id: 'job-7',
              status: 'SUCCEEDED',
              ranks: 2,
              duration_seconds: 12,
              resources: {
                nodes: 1,
                procs_per_node: 2,
                world_size: 2,
                cpus: 1,
                memory: null,
                gpus: 0,
                gpu_type: null,
                gpus_granted: {}
              }
            },
            {
              id: 'model_version:resnet-mini/2',
              kind: 'model_version',
              label: 'resnet-mini v2',
              exists: true,
              model: 'resnet-mini',
              version: 2,
              metrics: { acc: 0.95 },
              aliases: ['production']
            }
          ],
          edges: [
            { source: 'job:job-7', target: 'model_version:resnet-mini/2', label: 'registered' },
            { source: 'snapshot:aa', target: 'job:job-7', label: 'ran as' },
            { source: 'dataset:mnist-mini@abc', target: 'snapshot:aa', label: 'read by' }
          ]
        };
      }
      if (url.pathname === '/models/resnet-mini/versions/2' && init.method === 'GET') {
        return VERSIONS[1];
      }
      if (url.pathname === '/models/resnet-mini/aliases/production' && init.method === 'PUT') {
        return { model: 'resnet-mini', alias: 'production', version: 2 };
      }
      if (url.pathname === '/models/resnet-mini/aliases/latest') {
        throw new LabrigAPIError({
          status: 400,
          reason: 'invalid_input',
          field: 'alias',
          message: "alias 'latest' is not allowed"
        });
      }
      throw new Error(`unexpected ${init.method} ${endPoint}`);
    }) as typeof requestAPI);
    ({ host, root } = mountPoint());
  });

  afterEach(async () => {
    await unmountPoint(root, host);
  });

  it('lists models with their latest version and aliases', async () => {
    await React.act(async () => root.render(<ModelsBrowser items={MODELS} />));
    const item = query('[data-testid="labrig-model"]');
    expect(item.textContent).toContain('resnet-mini');
    expect(item.textContent).toContain('v3');
    expect(item.textContent).toContain('production: v2');
    expect(item.textContent).toContain('tiny');
  });

  it('shows versions with metric columns, sorted by the server, and plots a metric', async () => {
    await React.act(async () => root.render(<ModelsBrowser items={MODELS} />));
    await click(button('resnet-mini'));
    const headers = all('th').map(th => th.textContent);
    expect(headers).toEqual(['Compare', 'Version ▼', 'acc', 'loss', 'Aliases', 'Registered', 'By']);
    const versions = () =>
      all('[data-testid="labrig-version-row"] td:nth-child(2)').map(td => td.textContent);
    expect(versions()).toEqual(['v3', 'v2', 'v1']);
    const queries = () =>
      calls.map(([endPoint]) => endPoint).filter(e => e.startsWith('models/resnet-mini/versions?'));

    await click(button('acc'));
    expect(queries().pop()).toBe(
      'models/resnet-mini/versions?limit=50&sort=metric%3Aacc&order=desc'
    );
    expect(versions()).toEqual(['v2', 'v3', 'v1']);
    await click(button('acc ▼'));
    expect(queries().pop()).toContain('sort=metric%3Aacc&order=asc');
    expect(versions()).toEqual(['v1', 'v3', 'v2']);
    await click(button('loss'));
    expect(versions()).toEqual(['v3', 'v2']); // the server lists only versions with loss
    expect(host.textContent).toContain('Only versions with loss are listed.');

    await React.act(async () => {
      await new Promise(resolve => setTimeout(resolve, 0));
    });
    expect(query('[data-testid="labrig-metric-plot"]').querySelectorAll('path')).toHaveLength(2);
    const select = query('select') as HTMLSelectElement;
    await React.act(async () => {
      select.value = 'loss';
      select.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await React.act(async () => {
      await new Promise(resolve => setTimeout(resolve, 0));
    });
    expect(query('[data-testid="labrig-metric-plot"]').querySelectorAll('path')).toHaveLength(2);
  });

  it("filters on the server and shows a bad filter's message beside its input", async () => {
    await React.act(async () => root.render(<ModelsBrowser items={MODELS} />));
    await click(button('resnet-mini'));
    await click(button('Filter versions'));
    const tag = query('input[name="tag"]') as HTMLInputElement;
    await React.act(async () => type(tag, 'no-equals'));
    await React.act(async () => {
      (query('[data-testid="labrig-version-filters"]') as HTMLFormElement).requestSubmit();
    });
    const message = query('[data-testid="labrig-field-error-tag"]');
    expect(message.textContent).toContain('is not KEY=VALUE');
    expect(tag.value).toBe('no-equals');
    expect(tag.getAttribute('aria-invalid')).toBe('true');
    expect(tag.getAttribute('aria-describedby')).toBe(message.id);

    await React.act(async () => type(tag, 'team=vision'));
    await React.act(async () => {
      (query('[data-testid="labrig-version-filters"]') as HTMLFormElement).requestSubmit();
    });
    expect(calls.map(([e]) => e).pop()).toContain('tag=team%3Dvision');
    expect(host.querySelector('[data-testid="labrig-field-error-tag"]')).toBeNull();
  });

  it('compares two picked versions', async () => {
    const compareVersions = jest.fn(async () => null);
    const links: ILabrigLinks = { ...NO_LINKS, compareVersions };
    await React.act(async () =>
      root.render(
        <LinksContext.Provider value={links}>
          <ModelsBrowser items={MODELS} />
        </LinksContext.Provider>
      )
    );
    await click(button('resnet-mini'));
    const compare = query('[data-testid="labrig-compare-versions"]') as HTMLButtonElement;
    expect(compare.disabled).toBe(true);
    for (const v of [3, 1]) {
      await click(query(`input[aria-label="Compare v${v}"]`));
    }
    expect(compare.textContent).toBe('Compare v3 and v1');
    await click(compare);
    expect(compareVersions).toHaveBeenCalledWith('resnet-mini', 3, 1);
  });

  it('shows a version with files, lineage and the load snippet, and moves an alias', async () => {
    const onChanged = jest.fn();
    await React.act(async () =>
      root.render(<ModelsBrowser items={MODELS} onChanged={onChanged} />)
    );
    await click(button('resnet-mini'));
    await click(button('v2'));
    const detail = query('[data-testid="labrig-version-detail"]');
    expect(detail.textContent).toContain('better');
    const tags = Array.from(detail.querySelectorAll('h4')).find(h => h.textContent === 'Tags');
    expect(tags!.nextElementSibling!.textContent).toBe('teamvision');
    expect(query('a[download]').getAttribute('href')).toContain(
      'labrig/api/v1/models/resnet-mini/versions/2/files/model.pt'
    );
    const lineage = query('[data-testid="labrig-lineage"]').textContent;
    expect(lineage).toContain('job-7 (rank 0)');
    expect(lineage).toContain('nb/train.ipynb');
    expect(lineage).toContain('mnist-mini @ abcdef012345');
    expect(lineage).toContain('0123456789ab');
    expect(query('[data-testid="labrig-load-snippet"]').textContent).toBe(
      'import labrig.models\nmodel = labrig.models.load("resnet-mini/2")'
    );

    await click(button('Point here'));
    const put = calls.find(([, init]) => init.method === 'PUT')!;
    expect(put[0]).toBe('models/resnet-mini/aliases/production');
    expect(JSON.parse(put[1].body as string)).toEqual({ version: 2 });
    expect(onChanged).toHaveBeenCalled();

    const input = query('input[aria-label="Alias name"]') as HTMLInputElement;
    await React.act(async () => {
      const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
      setter.call(input, 'latest');
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await click(button('Point here'));
    expect(query('[role="alert"]').textContent).toBe("alias 'latest' is not allowed");
  });

  it('links the lineage to the job, the snapshot, the notebook and the datasets', async () => {
    const opened: string[] = [];
    const links: ILabrigLinks = {
      ...NO_LINKS,
      openJob: async id => (opened.push(`job ${id}`), 'job job-7 was deleted'),
      openNotebook: async path => (opened.push(`notebook ${path}`), null),
      openSnapshot: async sha => (opened.push(`snapshot ${sha.slice(0, 4)}`), null),
      openDataset: async name => (opened.push(`dataset ${name}`), null)
    };
    await React.act(async () =>
      root.render(
        <LinksContext.Provider value={links}>
          <ModelsBrowser items={MODELS} view={{ model: 'resnet-mini', version: 2 }} />
        </LinksContext.Provider>
      )
    );
    const lineage = query('[data-testid="labrig-lineage"]');
    const inLineage = (text: string) =>
      Array.from(lineage.querySelectorAll('button')).find(b => b.textContent === text)!;
    await click(inLineage('job-7'));
    expect(lineage.querySelector('[data-testid="labrig-link-gone"]')!.textContent).toBe(
      'job job-7 was deleted'
    );
    await click(inLineage('nb/train.ipynb'));
    await click(inLineage('mnist-mini'));
    expect(opened).toEqual(['job job-7', 'notebook nb/train.ipynb', 'dataset mnist-mini']);

    // The graph: dataset -> snapshot (deleted since) -> job -> this version.
    const graph = query('[data-testid="labrig-lineage-graph"]');
    expect(
      Array.from(graph.querySelectorAll('.labrig-LineageNode-kind')).map(n => n.textContent)
    ).toEqual(['Dataset', 'Notebook snapshot', 'Job', 'Model version']);
    expect(query('[data-testid="labrig-lineage-snapshot"]').textContent).toContain('(deleted)');
    expect(query('[data-testid="labrig-lineage-snapshot"]').textContent).toContain('lr=0.1');
    expect(query('[data-testid="labrig-lineage-job"]').textContent).toContain(
      'succeeded · 12 s2 ranks · 1 CPU per rank'
    );
    expect(query('[data-testid="labrig-lineage-dataset"]').textContent).toContain(
      'pinned now: ffff'
    );
    expect(
      query('[data-testid="labrig-lineage-model_version"] [aria-current="true"]')
    ).not.toBeNull();
    expect(graph.textContent).toContain('read by');
  });
});

describe('models helpers', () => {
  beforeEach(() => mockRequest.mockReset());

  it('parses metrics and refuses what is not a finite number', () => {
    expect(parseMetrics('acc=0.91, loss = 0.3\nf1=1')).toEqual({ acc: 0.91, loss: 0.3, f1: 1 });
    expect(parseMetrics('  ')).toEqual({});
    expect(() => parseMetrics('acc')).toThrow('is not NAME=NUMBER');
    expect(() => parseMetrics('acc=high')).toThrow('not a finite number');
    expect(() => parseMetrics('acc=')).toThrow('not a finite number');
    expect(() => parseMetrics('acc=Infinity')).toThrow('not a finite number');
  });

  it('suggests a model name from a path', () => {
    expect(suggestName('runs/resnet_mini-final.pt')).toBe('resnet_mini-final');
    expect(suggestName('weird name (1).bin')).toBe('weird-name-1-');
    expect(suggestName('.pt')).toBe('model');
  });

  it('posts a registration and passes the server error on', async () => {
    mockRequest.mockResolvedValueOnce(version(4, { acc: 1 }));
    const v = await submitRegistration('runs/m.pt', { name: ' m ', metrics: 'acc=1', note: 'n' });
    expect(v.version).toBe(4);
    expect(mockRequest.mock.calls[0][0]).toBe('models/m/versions');
    expect(JSON.parse(mockRequest.mock.calls[0][1]!.body as string)).toEqual({
      path: 'runs/m.pt',
      metrics: { acc: 1 },
      note: 'n'
    });
    await expect(submitRegistration('x', { name: '', metrics: '', note: '' })).rejects.toThrow(
      'Give the model a name.'
    );
    mockRequest.mockRejectedValueOnce(
      new LabrigAPIError({ status: 400, reason: 'invalid_input', message: 'x.pt is empty' })
    );
    await expect(submitRegistration('x.pt', { name: 'm', metrics: '', note: '' })).rejects.toThrow(
      'x.pt is empty'
    );
  });

  it('builds version list queries', async () => {
    mockRequest.mockResolvedValueOnce({ items: [], next_page_token: null });
    await listVersions('a b', {
      limit: 5,
      sort: 'metric:acc',
      order: 'asc',
      alias: 'production',
      tags: ['team=vision', 'task=cls'],
      metrics: ['acc>=0.9']
    });
    expect(mockRequest.mock.calls[0][0]).toBe(
      'models/a%20b/versions?limit=5&sort=metric%3Aacc&order=asc&alias=production' +
        '&tag=team%3Dvision&tag=task%3Dcls&metric=acc%3E%3D0.9'
    );
    expect(loadSnippet('m@production')).toContain('labrig.models.load("m@production")');
  });

  it('plots nothing when no version has the metric', () => {
    const host = document.createElement('div');
    const root = createRoot(host);
    React.act(() => root.render(<MetricPlot versions={[version(1, {})]} metric="acc" />));
    expect(host.textContent).toBe('No version has acc.');
    React.act(() => root.unmount());
  });
});
