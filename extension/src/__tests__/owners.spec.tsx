/**
 * Who made what, as the panel shows it (issue 13): the submitter of a job and the owner of a
 * schedule, a model's creator and tags and each version's registrant, a dataset's owner and its
 * private mark, who saved a notebook's resources (and, when they are another user's, that this
 * user cannot change them, said before a save); and another user's job, snapshot and private
 * dataset in a lineage graph, a job's links and the GPU holders, shown as theirs (never as
 * deleted, never as a link). Names and tags are untrusted: they render as text.
 */
import * as React from 'react';
import { Root } from 'react-dom/client';

import { IDataset, IJob, IModel } from '../api';
import { AddDatasetForm, DatasetsView } from '../datasets/DatasetsView';
import { IDatasetInfo } from '../datasets/api';
import { ISchedule } from '../jobs/api';
import { JobView } from '../jobs/JobView';
import { SchedulesList } from '../jobs/SchedulesList';
import { IJobLinks, IJobResources, ILineageGraph, ILineageNode } from '../links/api';
import { JobLinksView } from '../links/JobLinksView';
import { LineageGraphView } from '../links/LineageView';
import { ILabrigLinks, LinksContext } from '../links/links';
import { IModelVersion } from '../models/api';
import { ModelsBrowser } from '../models/ModelsBrowser';
import { JobsList } from '../panel/lists';
import { IGpuHolder, IResourceShow } from '../resources/api';
import { GpuHolders } from '../resources/GpuHolders';
import { ResourcesView } from '../resources/ResourcesView';
import { requestAPI } from '../request';
import { mountPoint, unmountPoint } from './mountPoint';

jest.mock('../request', () => ({
  ...jest.requireActual('../request'),
  requestAPI: jest.fn()
}));

const mockRequest = requestAPI as jest.MockedFunction<typeof requestAPI>;

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

/** Would run if rendered as markup: a user may name themselves anything a provider allows. */
const IMG = '<img src=x onerror="window.__xss=1">';

const JOB: IJob = {
  id: 'j1',
  name: 'train',
  notebook_path: 'nb/train.ipynb',
  status: 'RUNNING',
  reason: null,
  created_at: '2026-11-30T00:00:00Z',
  started_at: null,
  finished_at: null,
  owner: 'alice'
};

const MODEL: IModel = {
  name: 'resnet',
  description: '',
  tags: { team: 'vision', stage: IMG },
  created_at: '2026-11-30T00:00:00Z',
  owner: 'alice',
  latest_version: 1,
  aliases: {}
};

const VERSION: IModelVersion = {
  model: 'resnet',
  version: 1,
  ref: 'resnet/1',
  created_at: '2026-11-30T00:00:00Z',
  user: 'bob',
  note: '',
  kind: 'file',
  metrics: {},
  params: {},
  tags: {},
  lineage: {},
  size: 1,
  file_count: 1,
  aliases: [],
  files: []
};

const DATASET: IDatasetInfo = {
  name: 'faces',
  source_url: 'file:///data/faces',
  read_only: true,
  include: null,
  version: 'v1',
  created_at: '2026-11-30T00:00:00Z',
  owner: 'alice',
  private: true,
  options: {},
  admin: false,
  pinned: false,
  mount_path: null,
  files: null,
  bytes: null,
  complete: false
};

const RESOURCES: IJobResources = {
  nodes: 1,
  procs_per_node: 1,
  world_size: 1,
  cpus: null,
  memory: null,
  gpus: 0,
  gpu_type: null,
  gpus_granted: {}
};

/** Routes answered by the mocked API; anything else fails the test. */
function serve(routes: { [path: string]: unknown }, calls: Array<[string, RequestInit]> = []) {
  mockRequest.mockReset();
  mockRequest.mockImplementation((async (path: string, init: RequestInit = {}) => {
    calls.push([path, init]);
    const key = Object.keys(routes).find(route => path === route || path.startsWith(route + '?'));
    if (key === undefined) {
      throw new Error(`unexpected request ${path}`);
    }
    return routes[key];
  }) as typeof requestAPI);
  return calls;
}

function node(fields: Partial<ILineageNode> & Pick<ILineageNode, 'id' | 'kind' | 'label'>) {
  return { exists: true, hidden: false, ...fields } as ILineageNode;
}

describe('owners in the panel', () => {
  let host: HTMLElement;
  let root: Root;
  let opened: string[];
  const links: ILabrigLinks = new Proxy({} as ILabrigLinks, {
    get:
      (_target, name) =>
      async (...args: unknown[]) => {
        opened.push(`${String(name)} ${args.filter(a => typeof a !== 'object').join(' ')}`);
        return null;
      }
  });
  const render = (element: JSX.Element) =>
    React.act(async () =>
      root.render(<LinksContext.Provider value={links}>{element}</LinksContext.Provider>)
    );
  const flush = () => React.act(() => new Promise<void>(resolve => setTimeout(resolve, 0)));
  const text = () => host.textContent ?? '';
  const byTestId = (id: string) =>
    Array.from(host.querySelectorAll(`[data-testid="${id}"]`)) as HTMLElement[];

  beforeEach(() => {
    opened = [];
    (window as { __xss?: number }).__xss = undefined;
    ({ host, root } = mountPoint());
  });

  afterEach(async () => {
    await unmountPoint(root, host);
    // Nothing a name or a tag carried ran, and no markup from one was made.
    expect((window as { __xss?: number }).__xss).toBeUndefined();
  });

  it('lists who submitted each job, and nothing for a job from before owners', async () => {
    await render(
      <JobsList
        items={[JOB, { ...JOB, id: 'j0', name: 'old', owner: null }]}
        selectedNotebook={null}
        onOpen={() => undefined}
      />
    );
    const rows = byTestId('labrig-job');
    expect(rows[0].textContent).toContain('by alice');
    expect(rows[0].querySelector('button')!.getAttribute('aria-label')).toMatch(/, by alice$/);
    expect(rows[1].textContent).not.toContain('by ');
  });

  it("heads a job's view with who submitted it", async () => {
    serve({
      'jobs/j1': { ...JOB, world_size: 1, ranks: [] },
      'jobs/j1/links': {
        job_id: 'j1',
        name: 'train',
        status: 'RUNNING',
        notebook_path: 'nb/train.ipynb',
        parameters: {},
        snapshot: null,
        datasets: [],
        resources: RESOURCES,
        model_versions: []
      },
      jobs: { items: [], next_page_token: null }
    });
    const source = { addEventListener: () => undefined, close: () => undefined };
    await render(<JobView jobId="j1" eventSource={() => source as unknown as EventSource} />);
    await flush();
    expect(byTestId('labrig-owner').map(e => e.textContent)).toEqual(['by alice']);
    expect(byTestId('labrig-owner')[0].title).toBe('Submitted by alice');
  });

  it("shows a schedule's owner", async () => {
    const schedule: ISchedule = {
      id: 's1',
      name: 'nightly',
      cron: '0 3 * * *',
      notebook_path: 'nb/train.ipynb',
      paused: false,
      created_at: '2026-11-30T00:00:00Z',
      next_run_at: '2099-01-01T03:00:00Z',
      owner: 'bob'
    };
    await render(
      <SchedulesList
        items={[schedule]}
        loaded={true}
        error={null}
        hasMore={false}
        onChanged={() => undefined}
      />
    );
    expect(byTestId('labrig-schedule')[0].textContent).toContain('by bob');
  });

  it("lists a model's creator and its tags, as text", async () => {
    await render(<ModelsBrowser items={[MODEL]} />);
    const row = byTestId('labrig-model')[0];
    expect(row.textContent).toContain('by alice');
    const tags = Array.from(row.querySelectorAll('[data-testid="labrig-model-tags"] li'));
    expect(tags.map(tag => tag.textContent)).toEqual(['team=vision', `stage=${IMG}`]);
    expect(host.querySelector('img')).toBeNull();
  });

  it("shows the model's creator and tags on its versions, and each version's registrant", async () => {
    serve({ 'models/resnet/versions': { items: [VERSION], next_page_token: null } });
    await render(<ModelsBrowser items={[MODEL]} view={{ model: 'resnet', version: null }} />);
    await flush();
    expect(text()).toContain('Created by alice');
    expect(byTestId('labrig-model-tags')).toHaveLength(1);
    expect(byTestId('labrig-version-user').map(cell => cell.textContent)).toEqual(['bob']);
  });

  it('shows on one version who registered it, who created the model, and no private dataset', async () => {
    serve({
      'models/resnet/versions/1': {
        ...VERSION,
        lineage: { datasets: { moons: 'v1' }, private_datasets: 1 }
      },
      'models/resnet/versions/1/lineage': { model: 'resnet', version: 1, nodes: [], edges: [] }
    });
    await render(<ModelsBrowser items={[MODEL]} view={{ model: 'resnet', version: 1 }} />);
    await flush();
    expect(text()).toContain('Model created by alice');
    expect(text()).toContain('registered by bob');
    const tags = byTestId('labrig-model-tags')[0];
    expect(tags.getAttribute('aria-label')).toBe('Tags of the model resnet');
    expect(tags.textContent).toContain('team=vision');
    expect(host.querySelector('img')).toBeNull();
    // The server left another user's private dataset out of the lineage, and counted it.
    const lineage = byTestId('labrig-lineage')[0];
    expect(lineage.textContent).toContain('moons');
    expect(byTestId('labrig-hidden-entity').map(e => e.textContent)).toEqual([
      '1 private dataset of another user'
    ]);
  });

  it('marks a private dataset and names who added it', async () => {
    serve({ 'datasets/faces/users': { kernels: [], jobs: [] } });
    const shared: IDatasetInfo = { ...DATASET, name: 'moons', owner: null, private: false };
    await render(<DatasetsView items={[DATASET, shared]} onChanged={() => undefined} />);
    const [faces, moons] = byTestId('labrig-dataset');
    expect(faces.querySelector('[data-testid="labrig-dataset-private"]')!.textContent).toBe(
      'private'
    );
    expect(faces.textContent).toContain('by alice');
    expect(moons.querySelector('[data-testid="labrig-dataset-private"]')).toBeNull();
    expect(moons.textContent).not.toContain('by ');
  });

  it('adds a private dataset when asked to', async () => {
    const calls = serve({ datasets: { ...DATASET } as IDataset });
    await render(<AddDatasetForm onAdded={() => undefined} />);
    const field = (name: string) => host.querySelector(`[name="${name}"]`) as HTMLInputElement;
    const type = (input: HTMLInputElement, value: string) => {
      const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
      setter.call(input, value);
      input.dispatchEvent(new Event('input', { bubbles: true }));
    };
    await React.act(async () => {
      type(field('name'), 'faces');
      type(field('source_url'), 'file:///data/faces');
      field('private').click();
    });
    await React.act(async () => {
      (host.querySelector('button[type="submit"]') as HTMLButtonElement).click();
    });
    const [path, init] = calls[0];
    expect(path).toBe('datasets');
    expect(JSON.parse(init.body as string)).toMatchObject({ name: 'faces', private: true });
  });

  describe("a notebook's resources", () => {
    const shown = (overrides: Partial<IResourceShow>): IResourceShow => ({
      notebook_path: 'nb/train.ipynb',
      request: {
        notebook_path: 'nb/train.ipynb',
        profile: 'small',
        cpus: 1,
        memory: 2 ** 30,
        gpus: 0,
        gpu_type: null,
        disk: null
      },
      owner: 'alice',
      may_change: true,
      allocations: [],
      scratch_dir: '/tmp/s',
      enforcement: {
        cpu: { state: 'advisory', mechanism: 'none' },
        memory: { state: 'advisory', mechanism: 'none' },
        gpu: { state: 'advisory', mechanism: 'none' },
        disk: { state: 'advisory', mechanism: 'none' }
      },
      last_stop: null,
      ...overrides
    });
    const profiles = {
      default: 'small',
      items: [
        {
          slug: 'small',
          display_name: 'Small',
          description: '1 CPU',
          default: true,
          cpus: 1,
          memory: 2 ** 30,
          gpus: 0,
          gpu_type: null,
          disk: null,
          allow_custom: false,
          bounds: {}
        }
      ]
    };
    // Usage samples are not served: the view shows none, as while no kernel runs.
    const mount = async (show: IResourceShow) => {
      const calls = serve({
        'resources/nb/train.ipynb': show,
        'resource-profiles': profiles
      });
      const confirm = jest.fn(async () => true);
      await render(
        <ResourcesView notebookPath="nb/train.ipynb" confirm={confirm} interval={60_000} />
      );
      await flush();
      return { calls, confirm };
    };
    const buttonNamed = (name: string) =>
      Array.from(host.querySelectorAll('button')).find(b => b.textContent === name)!;

    it('say who saved them', async () => {
      await mount(shown({}));
      expect(byTestId('labrig-resources-now')[0].textContent).toContain('saved by alice');
      expect(byTestId('labrig-resources-read-only')).toHaveLength(0);
      expect(buttonNamed('Apply').disabled).toBe(false);
    });

    it("say up front that another user's cannot be changed, and offer no save", async () => {
      const { calls, confirm } = await mount(shown({ may_change: false }));
      const note = byTestId('labrig-resources-read-only')[0];
      expect(note.textContent).toContain('saved by alice');
      expect(note.textContent).toContain('only they or an administrator can change');
      expect(buttonNamed('Apply').disabled).toBe(true);
      expect(buttonNamed('Release').disabled).toBe(true);
      expect((host.querySelector('select[name="profile"]') as HTMLSelectElement).disabled).toBe(
        true
      );
      await React.act(async () => {
        host.querySelector('form')!.dispatchEvent(new Event('submit', { bubbles: true }));
      });
      expect(confirm).not.toHaveBeenCalled(); // Enter in the form saves nothing either
      expect(calls.filter(([, init]) => init.method === 'PUT')).toEqual([]);
    });
  });

  describe("another user's things in the lineage", () => {
    const graph: ILineageGraph = {
      model: 'resnet',
      version: 1,
      nodes: [
        node({ id: 'model_version:resnet/1', kind: 'model_version', label: 'resnet v1' }),
        node({
          id: 'job:a1ce',
          kind: 'job',
          label: 'a job of another user',
          job_id: 'a1ce',
          rank: 0,
          hidden: true
        }),
        node({
          id: 'snapshot:ab',
          kind: 'snapshot',
          label: 'plan.ipynb',
          sha256: 'ab'.repeat(32),
          parameters: { lr: 0.5 },
          hidden: true
        }),
        node({
          id: 'dataset:private:0',
          kind: 'dataset',
          label: 'a private dataset',
          name: null,
          version: null,
          private: true,
          hidden: true
        }),
        node({
          id: 'dataset:moons@v1',
          kind: 'dataset',
          label: 'moons',
          name: 'moons',
          version: 'v1'
        })
      ],
      edges: []
    };

    it('are theirs, not deleted, and not links', async () => {
      await render(<LineageGraphView graph={graph} />);
      const [job] = byTestId('labrig-lineage-job');
      expect(job.textContent).toBe('Joba job of another user');
      expect(job.querySelector('button')).toBeNull();
      expect(job.textContent).not.toContain('deleted');
      const [snapshot] = byTestId('labrig-lineage-snapshot');
      expect(snapshot.textContent).toContain("plan.ipynb (another user's job)");
      expect(snapshot.textContent).toContain('lr=0.5');
      expect(snapshot.querySelector('button')).toBeNull();
      const [hidden, moons] = byTestId('labrig-lineage-dataset');
      expect(hidden.textContent).toBe('Dataseta private dataset');
      expect(hidden.querySelector('button')).toBeNull();
      expect(moons.querySelector('button')!.textContent).toBe('moons');
    });

    it("are one private dataset among a job's own datasets", async () => {
      const jobLinks: IJobLinks = {
        job_id: 'j1',
        name: 'train',
        status: 'SUCCEEDED',
        notebook_path: 'nb/train.ipynb',
        parameters: {},
        snapshot: null,
        datasets: [
          {
            name: null,
            version: null,
            exists: true,
            current_version: null,
            private: true,
            hidden: true
          }
        ],
        resources: RESOURCES,
        model_versions: []
      };
      serve({ 'jobs/j1/links': jobLinks });
      await render(<JobLinksView jobId="j1" status="SUCCEEDED" />);
      await flush();
      const [dataset] = byTestId('labrig-job-dataset');
      expect(dataset.textContent).toBe('a private dataset');
      expect(dataset.querySelector('button')).toBeNull();
    });

    it('hold GPUs as a job of another user', async () => {
      const gpu: IGpuHolder = {
        uuid: 'GPU-0',
        model: 'A100',
        holder: 'job:a1ce/rank0',
        alive: true,
        notebook_path: null,
        kernel_id: null,
        job: { id: 'a1ce', rank: 0, name: null, status: null, hidden: true }
      };
      serve({ 'resource-gpus': { gpus: [gpu] } });
      await render(<GpuHolders refreshKey={1} />);
      await flush();
      const [row] = byTestId('labrig-gpu');
      expect(row.textContent).toBe('GPU 0 A100held by a job of another user rank 0');
      expect(row.querySelector('button')).toBeNull();
    });
  });
});
