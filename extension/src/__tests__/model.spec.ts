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
    finished_at: null
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
    expect(mockRequest).toHaveBeenCalledTimes(1 + SECTIONS.length);
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
    server.lists.jobs = Array.from({ length: 60 }, (_, i) => job(String(i)));
    await model.refresh();
    expect(model.section('jobs').items).toHaveLength(50);
    expect(model.section('jobs').hasMore).toBe(true);

    await model.showMore('jobs');
    expect(server.calls.map(([endPoint]) => endPoint)).toContain('jobs?limit=100');
    expect(model.section('jobs').items).toHaveLength(60);
    expect(model.section('jobs').hasMore).toBe(false);
    expect(model.section('jobs').limit).toBe(100);
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
