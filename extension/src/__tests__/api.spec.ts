import * as api from '../api';
import { requestAPI } from '../request';

jest.mock('../request', () => ({
  ...jest.requireActual('../request'),
  requestAPI: jest.fn()
}));

const mockRequest = requestAPI as jest.MockedFunction<typeof requestAPI>;

const PAGE = { items: [], next_page_token: null };

beforeEach(() => {
  mockRequest.mockReset();
  mockRequest.mockResolvedValue(PAGE);
});

function lastCall(): [string, RequestInit | undefined] {
  const calls = mockRequest.mock.calls;
  expect(calls.length).toBeGreaterThan(0);
  const [endPoint, init] = calls[calls.length - 1];
  return [endPoint as string, init];
}

describe('api', () => {
  it('getStatus GETs status', async () => {
    mockRequest.mockResolvedValue({ version: '0.1.0' });
    await expect(api.getStatus()).resolves.toEqual({ version: '0.1.0' });
    expect(lastCall()).toEqual(['status', { method: 'GET' }]);
  });

  it.each([
    ['listResourceRequests', 'resources'],
    ['listDatasets', 'datasets'],
    ['listJobs', 'jobs'],
    ['listModels', 'models']
  ] as const)('%s GETs %s without a query by default', async (fn, path) => {
    await expect(api[fn]()).resolves.toEqual(PAGE);
    expect(lastCall()).toEqual([path, { method: 'GET' }]);
  });

  it.each([
    ['listResourceRequests', 'resources'],
    ['listDatasets', 'datasets'],
    ['listJobs', 'jobs'],
    ['listModels', 'models']
  ] as const)('%s passes limit and page_token', async (fn, path) => {
    await api[fn]({ limit: 20, pageToken: 'abc/+=' });
    expect(lastCall()[0]).toBe(`${path}?limit=20&page_token=abc%2F%2B%3D`);
  });

  it('leaves out a null page token', () => {
    expect(api.listPath('jobs', { pageToken: null })).toBe('jobs');
    expect(api.listPath('jobs', { limit: 1 })).toBe('jobs?limit=1');
  });

  it('escapes names but keeps the slashes of notebook paths', async () => {
    await api.getDataset('imagenet mini');
    expect(lastCall()[0]).toBe('datasets/imagenet%20mini');

    await api.getModel('a/b');
    expect(lastCall()[0]).toBe('models/a%2Fb');

    await api.getJob('j-1');
    expect(lastCall()[0]).toBe('jobs/j-1');

    await api.getResourceRequest('experiments/run #1/train.ipynb');
    expect(lastCall()[0]).toBe('resources/experiments/run%20%231/train.ipynb');
  });

  it('createModel POSTs the JSON body', async () => {
    const created = {
      name: 'resnet',
      description: 'd',
      tags: {},
      created_at: 'x',
      latest_version: null
    };
    mockRequest.mockResolvedValue(created);

    await expect(api.createModel({ name: 'resnet', description: 'd' })).resolves.toEqual(created);
    const [endPoint, init] = lastCall();
    expect(endPoint).toBe('models');
    expect(init?.method).toBe('POST');
    expect(JSON.parse(init?.body as string)).toEqual({ name: 'resnet', description: 'd' });
    expect((init?.headers as Record<string, string>)['Content-Type']).toBe('application/json');
  });
});
