import * as React from 'react';
import { createRoot, Root } from 'react-dom/client';

import { IFormParameter, IJobForm, initialText, parseParameter } from '../jobs/api';
import { JobView } from '../jobs/JobView';
import { curvesSpec, jobCurves, versionsSpec } from '../plots/specs';
import { RunJobForm } from '../jobs/RunJobForm';
import { LabrigAPIError, requestAPI } from '../request';
import { mountPoint, unmountPoint } from './mountPoint';

jest.mock('../request', () => ({
  ...jest.requireActual('../request'),
  requestAPI: jest.fn()
}));

const mockRequest = requestAPI as jest.MockedFunction<typeof requestAPI>;
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const param = (name: string, type: IFormParameter['type'], value: unknown): IFormParameter => ({
  name,
  type,
  optional: false,
  declared_type: type,
  default: JSON.stringify(value),
  value,
  help: `${name} help`
});

const FORM: IJobForm = {
  notebook_path: 'train.ipynb',
  has_parameters_cell: true,
  note: null,
  kernel_name: 'python3',
  parameters: [param('lr', 'float', 0.05), param('epochs', 'int', 60), param('tag', 'str', 'a')],
  defaults: {
    nodes: 1,
    procs_per_node: 1,
    cpus: 2,
    memory: null,
    gpus: 0,
    gpu_type: null,
    datasets: ['mnist'],
    priority: 0,
    name: 'train'
  },
  host: { cpus: 8, memory: 2 ** 34, gpus: 0, gpu_types: [] }
};

function typeInto(input: HTMLInputElement, value: string): void {
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
  setter.call(input, value);
  input.dispatchEvent(new Event('input', { bubbles: true }));
}

describe('parameter parsing', () => {
  it('turns typed text into JSON values and names the parameter when it cannot', () => {
    expect(parseParameter(param('lr', 'float', 0.1), '0.01')).toBe(0.01);
    expect(parseParameter(param('n', 'int', 1), ' 42 ')).toBe(42);
    expect(() => parseParameter(param('n', 'int', 1), '4.5')).toThrow('n must be a whole number');
    expect(() => parseParameter(param('lr', 'float', 1), 'fast')).toThrow('lr must be a number');
    expect(parseParameter(param('xs', 'list', []), '[1, 2]')).toEqual([1, 2]);
    expect(() => parseParameter(param('xs', 'list', []), '{}')).toThrow('a JSON list');
    expect(parseParameter(param('s', 'str', ''), ' keep spaces ')).toBe(' keep spaces ');
    expect(initialText(param('flag', 'bool', true))).toBe(true);
    expect(initialText(param('xs', 'list', [1]))).toBe('[1]');
  });
});

describe('plot specifications', () => {
  it('draws one line per rank, and per run and rank when runs share a plot', () => {
    const points = [
      { step: 0, value: 1, rank: 0 },
      { step: 1, value: 0.5, rank: 0 },
      { step: null, value: 1, rank: 1 },
      { step: null, value: 0.8, rank: 1 }
    ];
    expect(jobCurves(points)).toEqual([
      { series: 'rank 0', step: 0, value: 1 },
      { series: 'rank 0', step: 1, value: 0.5 },
      { series: 'rank 1', step: 0, value: 1 },
      { series: 'rank 1', step: 1, value: 0.8 }
    ]);
    expect(jobCurves(points.slice(0, 2), 'v3').map(p => p.series)).toEqual(['v3', 'v3']);
    expect(jobCurves(points, 'v3').map(p => p.series)).toContain('v3 (rank 1)');
    const spec = curvesSpec('loss', jobCurves(points)) as any;
    expect(spec.data.values).toHaveLength(4);
    expect(spec.encoding.color.field).toBe('series');
    expect(spec.encoding.color.legend).not.toBeNull();
    expect(spec.description).toBe('loss over steps, rank 0 vs rank 1');
  });

  it('plots a metric across versions in version order', () => {
    const spec = versionsSpec('acc', [
      { version: 3, value: 0.8 },
      { version: 1, value: 0.5 }
    ]) as any;
    expect(spec.data.values.map((v: { version: number }) => v.version)).toEqual([1, 3]);
    expect(spec.description).toBe('acc across versions 1 to 3');
  });
});

describe('RunJobForm', () => {
  let host: HTMLElement;
  let root: Root;
  const posted: unknown[] = [];
  const submitted = jest.fn();
  let catalog: string[] = ['cifar10', 'mnist'];

  const mount = async () => {
    await React.act(async () => {
      root.render(<RunJobForm path="train.ipynb" onSubmitted={submitted} />);
    });
  };

  beforeEach(async () => {
    posted.length = 0;
    catalog = ['cifar10', 'mnist'];
    submitted.mockReset();
    mockRequest.mockReset();
    mockRequest.mockImplementation((async (endPoint: string, init: RequestInit = {}) => {
      if (endPoint === 'job-form/train.ipynb') {
        return FORM;
      }
      if (endPoint === 'datasets?limit=500') {
        return { items: catalog.map(name => ({ name })), next_page_token: null };
      }
      if (endPoint === 'jobs' && init.method === 'POST') {
        const body = JSON.parse(init.body as string);
        posted.push(body);
        if (body.procs_per_node > 8) {
          throw new LabrigAPIError({
            status: 400,
            reason: 'invalid_input',
            field: 'procs_per_node',
            message: '9 processes x 1 CPUs need 9 CPUs; this host has 8'
          });
        }
        return { id: 'j1', status: 'QUEUED' };
      }
      throw new Error(`unexpected ${endPoint}`);
    }) as typeof requestAPI);
    ({ host, root } = mountPoint());
    await mount();
  });

  afterEach(async () => {
    await unmountPoint(root, host);
  });

  const input = (id: string) => host.querySelector(`#${id}`) as HTMLInputElement;
  const submit = async () => {
    await React.act(async () => {
      (host.querySelector('button[type="submit"]') as HTMLButtonElement).click();
    });
  };

  it('shows typed inputs with defaults and help', () => {
    expect(input('labrig-param-lr').value).toBe('0.05');
    expect(input('labrig-param-epochs').value).toBe('60');
    expect(host.textContent).toContain('lr help');
    expect(input('labrig-job-cpus').value).toBe('2'); // what the notebook's kernel has
  });

  it('refuses a wrong type before sending, then submits typed values and ranks', async () => {
    await React.act(async () => typeInto(input('labrig-param-epochs'), 'many'));
    await submit();
    expect(host.querySelector('[data-testid="labrig-error-parameters.epochs"]')!.textContent).toBe(
      'epochs must be a whole number'
    );
    expect(posted).toEqual([]);
    await React.act(async () => {
      typeInto(input('labrig-param-epochs'), '5');
      typeInto(input('labrig-param-lr'), '0.01');
      typeInto(input('labrig-job-procs_per_node'), '2');
    });
    await submit();
    expect(posted).toHaveLength(1);
    expect(posted[0]).toMatchObject({
      notebook_path: 'train.ipynb',
      parameters: { lr: 0.01, epochs: 5 },
      procs_per_node: 2,
      nodes: 1
    });
    expect(submitted).toHaveBeenCalledWith({ job: { id: 'j1', status: 'QUEUED' } });
  });

  it('takes CPUs and memory as quantities, as the CLI does', async () => {
    await React.act(async () => {
      typeInto(input('labrig-job-cpus'), '500m');
      typeInto(input('labrig-job-memory'), '2Gi');
    });
    await submit();
    expect(posted[0]).toMatchObject({ cpus: '500m', memory: '2Gi' });
    await React.act(async () => {
      typeInto(input('labrig-job-cpus'), '1.5');
      typeInto(input('labrig-job-memory'), '');
    });
    await submit();
    expect(posted[1]).toMatchObject({ cpus: 1.5 });
    expect(posted[1]).not.toHaveProperty('memory');
  });

  const datasetBoxes = () =>
    [...host.querySelectorAll('input[name="datasets"]')] as HTMLInputElement[];

  it("lists the catalog's datasets, pre-checks those mounted on the host and submits the checked", async () => {
    expect(datasetBoxes().map(box => [box.value, box.checked])).toEqual([
      ['cifar10', false],
      ['mnist', true]
    ]);
    await React.act(async () => datasetBoxes()[0].click());
    await submit();
    expect((posted[0] as { datasets: string[] }).datasets).toEqual(['mnist', 'cifar10']);

    await React.act(async () => datasetBoxes()[1].click());
    await submit();
    expect((posted[1] as { datasets: string[] }).datasets).toEqual(['cifar10']);
  });

  it('says when the catalog has no datasets', async () => {
    catalog = [];
    await React.act(async () => root.unmount());
    root = createRoot(host);
    await mount();
    expect(datasetBoxes()).toHaveLength(0);
    expect(host.querySelector('[data-testid="labrig-job-datasets-empty"]')?.textContent).toBe(
      'No datasets in the catalog'
    );
    await submit();
    expect((posted[0] as { datasets: string[] }).datasets).toEqual([]);
  });

  it("shows the server's message next to the field it names", async () => {
    await React.act(async () => typeInto(input('labrig-job-procs_per_node'), '9'));
    await submit();
    expect(
      host.querySelector('[data-testid="labrig-error-procs_per_node"]')!.textContent
    ).toContain('this host has 8');
    expect(submitted).not.toHaveBeenCalled();
  });
});

class FakeEventSource {
  listeners: { [name: string]: Array<(event: Event) => void> } = {};
  closed = false;
  constructor(public url: string) {}
  addEventListener(name: string, fn: (event: Event) => void): void {
    (this.listeners[name] ??= []).push(fn);
  }
  emit(name: string, data: unknown): void {
    const event = new MessageEvent(name, { data: JSON.stringify(data) });
    (this.listeners[name] ?? []).forEach(fn => fn(event));
  }
  close(): void {
    this.closed = true;
  }
}

describe('JobView', () => {
  it('streams status, progress, logs and metrics, and closes the stream on unmount', async () => {
    const job = {
      id: 'j1',
      name: 'train',
      notebook_path: 'train.ipynb',
      status: 'RUNNING',
      reason: null,
      world_size: 2,
      output_path: 'labrig-jobs/j1/train.ipynb',
      ranks: []
    };
    mockRequest.mockReset();
    mockRequest.mockImplementation((async (endPoint: string) => {
      if (endPoint === 'jobs/j1') {
        return job;
      }
      if (endPoint === 'jobs/j1/links') {
        return {
          job_id: 'j1',
          name: 'train',
          status: 'RUNNING',
          notebook_path: 'train.ipynb',
          parameters: { lr: 0.5 },
          snapshot: { sha256: 'ab'.repeat(32), exists: true },
          datasets: [{ name: 'moons', version: 'v1abcdef99', exists: true, current_version: 'v2' }],
          resources: {
            nodes: 1,
            procs_per_node: 2,
            world_size: 2,
            cpus: 1,
            memory: null,
            gpus: 0,
            gpu_type: null,
            gpus_granted: {}
          },
          model_versions: []
        };
      }
      if (endPoint.startsWith('jobs?')) {
        return { items: [job, { ...job, id: 'j0', name: 'older' }], next_page_token: null };
      }
      if (endPoint === 'jobs/j1/cancel') {
        return { ...job, status: 'CANCELLED', reason: 'cancelled' };
      }
      throw new Error(endPoint);
    }) as typeof requestAPI);
    let source: FakeEventSource | null = null;
    const opened: string[] = [];
    const host = document.createElement('div');
    const root = createRoot(host);
    await React.act(async () => {
      root.render(
        <JobView
          jobId="j1"
          eventSource={url => (source = new FakeEventSource(url)) as unknown as EventSource}
          onOpenNotebook={path => opened.push(path)}
        />
      );
    });
    expect(source!.url).toContain('labrig/api/v1/jobs/j1/events');
    await React.act(async () => {
      source!.emit('progress', [
        { rank: 0, cell: 2, cells_done: 2, cells: 5, state: 'running', elapsed: 3 },
        { rank: 1, cell: 1, cells_done: 1, cells: 5, state: 'running', elapsed: 3 }
      ]);
      source!.emit('log', { rank: 0, text: 'epoch 0 loss 0.7\n' });
      source!.emit('log', { rank: 1, text: 'rank one\n' });
      source!.emit('metric', { rank: 0, points: [{ name: 'loss', value: 0.7, step: 0 }] });
      source!.emit('metric', { rank: 0, points: [{ name: 'loss', value: 0.5, step: 1 }] });
    });
    const bars = host.querySelectorAll('progress');
    expect([...bars].map(b => b.getAttribute('value'))).toEqual(['2', '1']);
    expect(host.textContent).toContain('cell 2 of 5');
    expect(host.querySelector('[data-testid="labrig-job-log"]')!.textContent).toBe(
      'epoch 0 loss 0.7\n'
    );
    await React.act(async () => {
      await new Promise(resolve => setTimeout(resolve, 0));
    });
    expect(host.querySelectorAll('[data-testid="labrig-metric-plot"] path')).toHaveLength(2);
    const links = host.querySelector('[data-testid="labrig-job-links"]')!.textContent;
    expect(links).toContain('lr=0.5');
    expect(links).toContain('moons @ v1abcdef… · pinned now: v2');
    expect(links).toContain('2 ranks · 1 CPU per rank');
    expect(links).toContain('No model versions yet');
    await React.act(async () => {
      const select = host.querySelector('.labrig-Logs select') as HTMLSelectElement;
      select.value = '1';
      select.dispatchEvent(new Event('change', { bubbles: true }));
    });
    expect(host.querySelector('[data-testid="labrig-job-log"]')!.textContent).toBe('rank one\n');
    await React.act(async () => {
      (host.querySelector('[data-testid="labrig-open-output"]') as HTMLButtonElement).click();
    });
    expect(opened).toEqual(['labrig-jobs/j1/train.ipynb']);
    await React.act(async () => {
      [...host.querySelectorAll('button')].find(b => b.textContent === 'Cancel')!.click();
    });
    expect(host.querySelector('[data-testid="labrig-job-status"]')!.textContent).toBe('cancelled');
    await React.act(async () => root.unmount());
    expect(source!.closed).toBe(true);
  });
});
