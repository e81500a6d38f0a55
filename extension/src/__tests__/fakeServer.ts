/**
 * A fake labrig server behind a mocked `requestAPI`, for model and panel tests.
 */
import { IModel, IPage, IStatus } from '../api';
import { LabrigAPIError } from '../request';

export const STATUS: IStatus = {
  version: '0.1.0',
  backends: { kernels: 'local', jobs: 'local', datasets: 'local', models: 'local' },
  capabilities: { gpus: '0' },
  database: { dialect: 'sqlite', revision: '0001' }
};

export class FakeServer {
  /** Items per list path. */
  lists: { [path: string]: unknown[] } = {
    resources: [],
    datasets: [],
    jobs: [],
    models: [],
    'job-schedules': []
  };
  /** Errors to throw per path (`status`, `jobs`, ...). */
  failures: { [path: string]: LabrigAPIError } = {};
  /** Every call: [endPoint, init]. */
  calls: Array<[string, RequestInit]> = [];

  handle = async (endPoint: string, init: RequestInit = {}): Promise<unknown> => {
    this.calls.push([endPoint, init]);
    const url = new URL(endPoint, 'http://x/');
    const path = url.pathname.slice(1);
    const failure = this.failures[path];
    if (failure) {
      throw failure;
    }
    if (path === 'status') {
      return STATUS;
    }
    if (path === 'models' && init.method === 'POST') {
      const body = JSON.parse(init.body as string) as { name: string; description?: string };
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(body.name)) {
        throw new LabrigAPIError({
          status: 400,
          reason: 'invalid_name',
          field: 'name',
          message: `"${body.name}" is not a valid model name: use letters, digits, ".", "_" or "-", starting with a letter or digit.`
        });
      }
      if ((this.lists.models as IModel[]).some(model => model.name === body.name)) {
        throw new LabrigAPIError({
          status: 409,
          reason: 'exists',
          message: `A model named "${body.name}" already exists.`
        });
      }
      const model: IModel = {
        name: body.name,
        description: body.description ?? '',
        tags: {},
        created_at: '2024-01-01T00:00:00Z',
        owner: null,
        latest_version: null
      };
      this.lists.models.push(model);
      return model;
    }
    const jobId = /^jobs\/([^/]+)$/.exec(path);
    if (jobId && (init.method ?? 'GET') === 'GET') {
      const found = (this.lists.jobs as Array<{ id: string }>).find(j => j.id === jobId[1]);
      if (!found) {
        throw new LabrigAPIError({
          status: 404,
          reason: 'not_found',
          message: `No job ${jobId[1]}`
        });
      }
      return found;
    }
    const items = this.lists[path];
    if (!items) {
      throw new LabrigAPIError({ status: 404, reason: 'not_found', message: `No ${path}` });
    }
    // Page tokens are offsets here (the real server's are keyset tokens).
    const limit = Number(url.searchParams.get('limit') ?? 50);
    const start = Number(url.searchParams.get('page_token') ?? 0);
    const page: IPage<unknown> = {
      items: items.slice(start, start + limit),
      next_page_token: items.length > start + limit ? String(start + limit) : null
    };
    return page;
  };

  /** How many GET calls went to a path. */
  count(path: string): number {
    return this.calls.filter(
      ([endPoint, init]) => endPoint.split('?')[0] === path && init.method !== 'POST'
    ).length;
  }
}
