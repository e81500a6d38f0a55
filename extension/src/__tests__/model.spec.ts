import { Poll } from '@lumino/polling';

import { IJob } from '../api';
import { ChangeKind, IErrorChange, LabrigModel, SECTIONS } from '../model';
import { LabrigAPIError, requestAPI } from '../request';
import { FakeServer, STATUS } from './fakeServer';

jest.mock('../request', () => ({
  ...jest.requireActual('../request'),
  requestAPI: jest.fn()
}));

const mockRequest = requestAPI as jest.MockedFunction<typeof requestAPI>;

function job(id: string, notebook = 'train.ipynb'): IJob {
  return {
    id,
    name: `job-${id}`,
    notebook_path: notebook,
    status: 'RUNNING',
    reason: null,
    created_at: '2024-01-01T00:00:00Z',
    started_at: null,
    finished_at: null,
    owner: null
  };
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

describe('LabrigModel', () => {
  let server: FakeServer;
  let model: LabrigModel;

  beforeEach(() => {
    server = new FakeServer();
    mockRequest.mockReset();
    mockRequest.mockImplementation(server.handle as typeof requestAPI);
    model = new LabrigModel({ standby: 'never' });
  });

  afterEach(() => {
    model.dispose();
  });

  it('starts empty and not loaded, without requests', () => {
    expect(model.status).toBeNull();
    for (const id of SECTIONS) {
      expect(model.section(id).loaded).toBe(false);
      expect(model.section(id).items).toEqual([]);
      expect(model.isExpanded(id)).toBe(true);
    }
    expect(mockRequest).not.toHaveBeenCalled();
  });

  it('refresh fetches the status and the four lists and signals each', async () => {
    server.lists.jobs = [job('1'), job('2')];
    const changes: ChangeKind[] = [];
    model.changed.connect((_, kind) => changes.push(kind));

    await model.refresh();

    expect(model.status).toEqual(STATUS);
    expect(model.statusError).toBeNull();
    expect(model.section('jobs').items.map(item => item.id)).toEqual(['1', '2']);
    for (const id of SECTIONS) {
      expect(model.section(id).loaded).toBe(true);
      expect(model.section(id).error).toBeNull();
      expect(server.count(id)).toBe(1);
      expect(changes).toContain(id);
    }
    expect(changes).toContain('status');
    expect(model.loading).toBe(false);
    expect(server.calls.map(([endPoint]) => endPoint)).toContain('jobs?limit=50');
  });

  it('shares one round of requests between concurrent refreshes', async () => {
    await Promise.all([model.refresh(), model.refresh(), model.refresh()]);
    // The status, the four sections and the job schedules.
    expect(mockRequest).toHaveBeenCalledTimes(2 + SECTIONS.length);
  });

  it('keeps an error per section and clears it when the section recovers', async () => {
    const errors: IErrorChange[] = [];
    model.errorChanged.connect((_, change) => errors.push(change));
    server.lists.jobs = [job('1')];
    await model.refresh();
    expect(errors).toEqual([]);

    const failure = new LabrigAPIError({
      status: 500,
      reason: 'db_locked',
      message: 'The database is busy.'
    });
    server.failures.jobs = failure;
    await model.refresh();

    expect(model.section('jobs').error).toBe(failure);
    // The last items stay visible next to the error.
    expect(model.section('jobs').items).toHaveLength(1);
    expect(model.section('models').error).toBeNull();
    expect(errors).toEqual([{ section: 'jobs', error: failure }]);

    // The same error again is not a change.
    await model.refresh();
    expect(errors).toHaveLength(1);

    delete server.failures.jobs;
    await model.refresh();
    expect(model.section('jobs').error).toBeNull();
    expect(errors).toEqual([
      { section: 'jobs', error: failure },
      { section: 'jobs', error: null }
    ]);
  });

  it('reports a status error separately', async () => {
    server.failures.status = new LabrigAPIError({
      status: 0,
      reason: 'network_error',
      message: 'Could not reach'
    });
    await model.refresh();
    expect(model.statusError?.message).toBe('Could not reach');
    expect(model.section('models').error).toBeNull();
  });

  it('wraps unexpected failures as LabrigAPIError', async () => {
    server.failures.datasets = new TypeError('boom') as unknown as LabrigAPIError;
    await model.refresh();
    const error = model.section('datasets').error;
    expect(error).toBeInstanceOf(LabrigAPIError);
    expect(error?.message).toBe('boom');
  });

  it('knows when there is more and shows one more page on request', async () => {
    server.lists.models = Array.from({ length: 60 }, (_, i) => ({ name: `m${i}` }));
    await model.refresh();
    expect(model.section('models').items).toHaveLength(50);
    expect(model.section('models').hasMore).toBe(true);

    await model.showMore('models');
    expect(server.calls.map(([endPoint]) => endPoint)).toContain('models?limit=100');
    expect(model.section('models').items).toHaveLength(60);
    expect(model.section('models').hasMore).toBe(false);
    expect(model.section('models').limit).toBe(100);
  });

  it('fetches further pages of jobs by token and keeps them across refreshes', async () => {
    server.lists.jobs = Array.from({ length: 120 }, (_, i) => ({
      ...job(String(1000 - i)),
      status: 'SUCCEEDED',
      created_at: new Date(Date.UTC(2024, 0, 1, 0, 0, 120 - i)).toISOString()
    }));
    await model.refresh();
    expect(model.section('jobs').items).toHaveLength(50);
    expect(model.section('jobs').nextPageToken).toBe('50');

    const changes: ChangeKind[] = [];
    model.changed.connect((_, kind) => changes.push(kind));
    const first = model.loadMoreJobs();
    expect(model.loadingMoreJobs).toBe(true);
    await Promise.all([first, model.loadMoreJobs()]);
    expect(server.calls.filter(([e]) => e === 'jobs?limit=50&page_token=50')).toHaveLength(1);
    expect(model.loadingMoreJobs).toBe(false);
    expect(model.section('jobs').items).toHaveLength(100);
    expect(changes.filter(kind => kind === 'jobs')).toHaveLength(2);

    // The poll re-reads the first page only; the loaded pages stay, in order.
    await model.refresh();
    expect(server.calls.filter(([e]) => e === 'jobs?limit=50')).toHaveLength(2);
    const ids = model.section('jobs').items.map(item => item.id);
    expect(ids).toEqual(server.lists.jobs.slice(0, 100).map(item => (item as IJob).id));

    await model.showMore('jobs');
    expect(server.calls.map(([e]) => e)).toContain('jobs?limit=50&page_token=100');
    expect(model.section('jobs').items).toHaveLength(120);
    expect(model.section('jobs').hasMore).toBe(false);
    await model.loadMoreJobs(); // nothing after the last page
    expect(server.calls.filter(([e]) => e.includes('page_token'))).toHaveLength(2);
  });

  it('re-reads active jobs past the first page; a deleted one leaves the list', async () => {
    // Same creation time: the server orders by id, descending.
    server.lists.jobs = Array.from({ length: 55 }, (_, i) => ({
      ...job(String(200 - i)),
      status: i >= 52 ? 'RUNNING' : 'SUCCEEDED'
    }));
    await model.refresh();
    await model.loadMoreJobs();
    expect(model.section('jobs').items).toHaveLength(55);

    const jobs = server.lists.jobs as IJob[];
    jobs[52] = { ...jobs[52], status: 'FAILED', reason: 'kernel died' };
    server.lists.jobs = jobs.filter(item => item.id !== '147');
    await model.refresh();

    const items = model.section('jobs').items;
    expect(server.calls.map(([e]) => e).filter(e => /^jobs\/\d+$/.test(e))).toEqual([
      'jobs/148',
      'jobs/147',
      'jobs/146'
    ]);
    expect(items.find(item => item.id === '148')?.status).toBe('FAILED');
    expect(items.find(item => item.id === '147')).toBeUndefined();
    expect(items.find(item => item.id === '146')?.status).toBe('RUNNING');
    expect(items).toHaveLength(54);
  });

  it('lists the job schedules with each refresh and keeps their error', async () => {
    server.lists['job-schedules'] = [{ id: 's1', name: 'nightly', cron: '0 3 * * *' }];
    await model.refresh();
    expect(model.schedules.loaded).toBe(true);
    expect(model.schedules.items.map(s => s.id)).toEqual(['s1']);
    expect(server.calls.map(([e]) => e)).toContain('job-schedules?limit=100');

    server.failures['job-schedules'] = new LabrigAPIError({
      status: 503,
      reason: 'x',
      message: 'The database is busy.'
    });
    await model.refreshSchedules();
    expect(model.schedules.error?.message).toBe('The database is busy.');
    expect(model.schedules.items).toHaveLength(1);
  });

  it('createModel posts and refreshes the models list', async () => {
    await model.refresh();
    const created = await model.createModel({ name: 'resnet50', description: 'baseline' });

    expect(created.name).toBe('resnet50');
    expect(model.section('models').items.map(item => item.name)).toEqual(['resnet50']);
    expect(server.count('models')).toBe(2);
  });

  it("createModel rejects with the server's message", async () => {
    await expect(model.createModel({ name: 'bad name' })).rejects.toMatchObject({
      status: 400,
      field: 'name',
      message: expect.stringContaining('is not a valid model name')
    });
    await model.createModel({ name: 'm' });
    await expect(model.createModel({ name: 'm' })).rejects.toMatchObject({ status: 409 });
  });

  it('tracks the selected notebook and expanded sections', () => {
    const changes: ChangeKind[] = [];
    model.changed.connect((_, kind) => changes.push(kind));

    model.selectNotebook('exp/train.ipynb');
    model.selectNotebook('exp/train.ipynb');
    model.setExpanded('jobs', false);
    model.setExpanded('jobs', false);

    expect(model.selectedNotebook).toBe('exp/train.ipynb');
    expect(model.isExpanded('jobs')).toBe(false);
    expect(changes).toEqual(['selection', 'expanded']);
  });

  it('polls at the refresh interval until disposed', async () => {
    model.refreshInterval = 1000;
    expect(model.refreshInterval).toBe(1000);

    void model.start();
    await sleep(50);
    expect(server.count('status')).toBe(1);

    await sleep(1200);
    expect(server.count('status')).toBe(2);

    const disposePoll = jest.spyOn(Poll.prototype, 'dispose');
    model.dispose();
    expect(model.isDisposed).toBe(true);
    expect(disposePoll).toHaveBeenCalledTimes(1);
    disposePoll.mockRestore();
    await sleep(1200);
    expect(server.count('status')).toBe(2);

    // Nothing happens after dispose.
    await model.refresh();
    expect(server.count('status')).toBe(2);
  });

  it('clamps too short refresh intervals', () => {
    model.refreshInterval = 10;
    expect(model.refreshInterval).toBe(1000);
  });
});
