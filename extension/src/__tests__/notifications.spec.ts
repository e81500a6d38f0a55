import { IJob, IModel } from '../api';
import { ILabrigLinks, NO_LINKS } from '../links/links';
import { LabrigModel } from '../model';
import { INotifier, TransitionNotifier } from '../notifications';
import { requestAPI } from '../request';
import { FakeServer } from './fakeServer';

jest.mock('../request', () => ({
  ...jest.requireActual('../request'),
  requestAPI: jest.fn()
}));

const mockRequest = requestAPI as jest.MockedFunction<typeof requestAPI>;

const LOAD = Date.parse('2026-12-01T12:00:00Z');
const BEFORE = '2026-12-01T10:00:00Z';
const AFTER = '2026-12-01T12:05:00Z';

function job(id: string, status: string, created_at = BEFORE, reason: string | null = null): IJob {
  return {
    id,
    name: `train-${id}`,
    notebook_path: 'train.ipynb',
    status: status as IJob['status'],
    reason,
    created_at,
    started_at: null,
    finished_at: null,
    owner: null
  };
}

function model(name: string, latest: number | null, created_at = BEFORE): IModel {
  return { name, description: '', tags: {}, created_at, owner: null, latest_version: latest };
}

function dataset(name: string, warmup: { id: string; state: string; error?: string } | null) {
  return {
    name,
    source_url: 'file:///d',
    read_only: true,
    include: null,
    version: null,
    created_at: BEFORE,
    warmup: warmup && { dataset: name, ...warmup }
  };
}

describe('TransitionNotifier', () => {
  let server: FakeServer;
  let labrig: LabrigModel;
  let shown: Array<{ kind: string; message: string; options: any }>;
  let opened: string[];

  const notifier: INotifier = {
    success: (message, options) => shown.push({ kind: 'success', message, options }),
    error: (message, options) => shown.push({ kind: 'error', message, options })
  };
  const links: ILabrigLinks = {
    ...NO_LINKS,
    openJob: async id => (opened.push(`job ${id}`), null),
    openDataset: async name => (opened.push(`dataset ${name}`), null),
    openModelVersion: async (name, v) => (opened.push(`${name} v${v}`), null)
  };

  beforeEach(() => {
    server = new FakeServer();
    mockRequest.mockReset();
    mockRequest.mockImplementation(server.handle as typeof requestAPI);
    labrig = new LabrigModel({ standby: 'never' });
    shown = [];
    opened = [];
    new TransitionNotifier(labrig, links, notifier, () => LOAD);
  });

  afterEach(() => labrig.dispose());

  it('says nothing about what had ended before the page was open', async () => {
    server.lists.jobs = [job('a', 'SUCCEEDED'), job('b', 'FAILED', BEFORE, 'boom')];
    server.lists.models = [model('demo', 3)];
    server.lists.datasets = [dataset('moons', { id: 'w1', state: 'succeeded' })];
    await labrig.refresh();
    await labrig.refresh();
    expect(shown).toEqual([]);
  });

  it('announces a job that succeeds or fails while the page is open, with an action', async () => {
    server.lists.jobs = [job('a', 'RUNNING'), job('b', 'QUEUED')];
    await labrig.refresh();
    server.lists.jobs = [job('a', 'SUCCEEDED'), job('b', 'FAILED', BEFORE, 'cell 3 raised')];
    await labrig.refresh();
    expect(shown.map(n => [n.kind, n.message])).toEqual([
      ['success', 'Job train-a (a) succeeded'],
      ['error', 'Job train-b (b) failed: cell 3 raised']
    ]);
    expect(shown[0].options.autoClose).toBeGreaterThan(0);
    expect(shown[1].options.autoClose).toBe(false);
    shown[1].options.actions[0].callback();
    expect(opened).toEqual(['job b']);
    await labrig.refresh();
    expect(shown).toHaveLength(2); // once each
  });

  it('announces a job that started and ended between two refreshes, not an old one', async () => {
    server.lists.jobs = [job('a', 'RUNNING', BEFORE)];
    await labrig.refresh();
    server.lists.jobs = [job('new', 'SUCCEEDED', AFTER), job('a', 'RUNNING'), job('old', 'FAILED')];
    await labrig.refresh();
    expect(shown.map(n => n.message)).toEqual(['Job train-new (new) succeeded']);
  });

  it('says nothing of a cancelled job', async () => {
    server.lists.jobs = [job('a', 'RUNNING')];
    await labrig.refresh();
    server.lists.jobs = [job('a', 'CANCELLED')];
    await labrig.refresh();
    expect(shown).toEqual([]);
  });

  it('announces warm-ups that complete or fail, with an action that shows the dataset', async () => {
    server.lists.datasets = [
      dataset('moons', { id: 'w1', state: 'running' }),
      dataset('cifar', null)
    ];
    await labrig.refresh();
    server.lists.datasets = [
      dataset('moons', { id: 'w1', state: 'succeeded' }),
      dataset('cifar', { id: 'w2', state: 'failed', error: 'access denied' })
    ];
    await labrig.refresh();
    expect(shown.map(n => [n.kind, n.message])).toEqual([
      ['success', 'Dataset moons is warm: every file is in the cache'],
      ['error', 'Warming dataset cifar failed: access denied']
    ]);
    shown[0].options.actions[0].callback();
    expect(opened).toEqual(['dataset moons']);
  });

  it('announces registrations, with an action that opens the version', async () => {
    server.lists.models = [model('demo', 1), model('empty', null)];
    await labrig.refresh();
    server.lists.models = [model('demo', 2), model('empty', null), model('fresh', 1, AFTER)];
    await labrig.refresh();
    expect(shown.map(n => n.message)).toEqual(['Registered demo v2', 'Registered fresh v1']);
    shown[0].options.actions[0].callback();
    expect(opened).toEqual(['demo v2']);
  });

  it('does not mistake models shown by "Show more" for new registrations', async () => {
    server.lists.models = [model('a', 1)];
    await labrig.refresh();
    server.lists.models = [model('a', 1), model('b-older', 4, BEFORE)];
    await labrig.refresh();
    expect(shown).toEqual([]);
  });
});
