/**
 * Typed calls to the labrig REST API (`server_ext/labrig/openapi.yaml`).
 *
 * Field names follow the wire format (snake_case) so that these interfaces
 * can be checked against the OpenAPI schemas by eye.
 */
import { requestAPI } from './request';
import { IResourceShow } from './resources/api';

/**
 * Version, configured backends and host capabilities (`Status`).
 */
export interface IStatus {
  version: string;
  backends: {
    kernels: string;
    jobs: string;
    datasets: string;
    models: string;
  };
  /** What this host offers, each a short label. */
  capabilities: { [name: string]: string };
  database: {
    dialect: string;
    revision: string | null;
  };
}

/**
 * One page of a paginated list (`Page`).
 */
export interface IPage<T> {
  items: T[];
  /** Pass as `pageToken` to get the next page; null on the last page. */
  next_page_token: string | null;
}

/**
 * Resources saved for one notebook's kernel (`ResourceRequest`).
 */
export interface IResourceRequest {
  notebook_path: string;
  profile: string | null;
  cpus: number | null;
  /** Bytes. */
  memory: number | null;
  gpus: number;
  gpu_type: string | null;
  /** Bytes of scratch disk. */
  disk: number | null;
  updated_at: string;
  /** Who saved it: only they (and administrators) may change it; null on records from before owners were recorded (everyone's). */
  owner: string | null;
}

/**
 * What keeps writes through a dataset's mount on this host out of the shared cache
 * (`Dataset.mount_protection`, `DatasetMount.protection`), in the server's words: the three
 * protections, strongest first, or why there is none ("not protected: ...") or why the mount
 * is gone ("not mounted: ...").
 */
export type MountProtection =
  | 'read-only (bind mount)'
  | 'private copy on write (reflink)'
  | 'private copy (full copy)'
  | `not protected: ${string}`
  | `not mounted: ${string}`;

/**
 * A dataset in the catalog (`Dataset`).
 */
export interface IDataset {
  name: string;
  source_url: string;
  read_only: boolean;
  include: string | null;
  /** Hash of the pinned manifest. */
  version: string | null;
  created_at: string;
  /** Who added it; null also for the administrator's datasets; null on records from before owners were recorded (everyone's). */
  owner: string | null;
  /** Seen, warmed and mounted by its owner and administrators only. */
  private: boolean;
  /** How this host's mount is protected; null when it is not mounted. */
  mount_protection?: MountProtection | null;
}

/**
 * The states a job moves through.
 */
export type JobStatus = 'QUEUED' | 'STARTING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

/**
 * A notebook run as a training job (`Job`).
 */
export interface IJob {
  id: string;
  name: string;
  notebook_path: string;
  status: JobStatus;
  reason: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** Who submitted it (a schedule's runs are the schedule owner's); null on records from before owners were recorded (everyone's). */
  owner: string | null;
  /** True once the ended job's resources are released and what it registered is in the registry (just after its final status). */
  finalized?: boolean;
}

/**
 * A registered model (`Model`).
 */
export interface IModel {
  name: string;
  description: string;
  tags: { [key: string]: string };
  created_at: string;
  /** Who created the model (registered its first version); null on records from before owners were recorded (everyone's). */
  owner: string | null;
  latest_version: number | null;
  /** Alias name -> version number. */
  aliases?: { [alias: string]: number };
  /** Only on a single model. */
  version_count?: number;
}

/**
 * The body of `POST /models` (`ModelCreate`).
 */
export interface IModelCreate {
  name: string;
  description?: string;
  tags?: { [key: string]: string };
}

/**
 * Paging options of every list call.
 */
export interface IListOptions {
  /** Page size, 1-500; the server's default (50) when omitted. */
  limit?: number;
  /** The `next_page_token` of the previous page. */
  pageToken?: string | null;
}

/**
 * Build `path?limit=..&page_token=..` from list options.
 */
export function listPath(path: string, options: IListOptions = {}): string {
  const params = new URLSearchParams();
  if (options.limit !== undefined) {
    params.set('limit', String(options.limit));
  }
  if (options.pageToken) {
    params.set('page_token', options.pageToken);
  }
  const query = params.toString();
  return query ? `${path}?${query}` : path;
}

/**
 * Encode a path parameter that may hold slashes (a notebook path), keeping the slashes.
 */
function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

export function getStatus(): Promise<IStatus> {
  return requestAPI<IStatus>('status', { method: 'GET' });
}

export function listResourceRequests(options?: IListOptions): Promise<IPage<IResourceRequest>> {
  return requestAPI<IPage<IResourceRequest>>(listPath('resources', options), { method: 'GET' });
}

/**
 * A notebook's request, allocation and enforcement (see `resources/api.ts` for the rest).
 */
export function getResourceRequest(notebookPath: string): Promise<IResourceShow> {
  return requestAPI<IResourceShow>(`resources/${encodePath(notebookPath)}`, { method: 'GET' });
}

export function listDatasets(options?: IListOptions): Promise<IPage<IDataset>> {
  return requestAPI<IPage<IDataset>>(listPath('datasets', options), { method: 'GET' });
}

export function getDataset(name: string): Promise<IDataset> {
  return requestAPI<IDataset>(`datasets/${encodeURIComponent(name)}`, { method: 'GET' });
}

export function listJobs(options?: IListOptions): Promise<IPage<IJob>> {
  return requestAPI<IPage<IJob>>(listPath('jobs', options), { method: 'GET' });
}

export function getJob(jobId: string): Promise<IJob> {
  return requestAPI<IJob>(`jobs/${encodeURIComponent(jobId)}`, { method: 'GET' });
}

export function listModels(options?: IListOptions): Promise<IPage<IModel>> {
  return requestAPI<IPage<IModel>>(listPath('models', options), { method: 'GET' });
}

export function getModel(name: string): Promise<IModel> {
  return requestAPI<IModel>(`models/${encodeURIComponent(name)}`, { method: 'GET' });
}

export function createModel(body: IModelCreate): Promise<IModel> {
  return requestAPI<IModel>('models', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body)
  });
}
