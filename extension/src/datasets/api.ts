/**
 * Typed calls for the dataset catalog (`/datasets`, `/dataset-cache` in openapi.yaml).
 */
import { IDataset, MountProtection } from '../api';
import { requestAPI } from '../request';

/**
 * Progress of a warm-up (`WarmUp`).
 */
export interface IWarmUp {
  id: string | null;
  dataset: string;
  version?: string | null;
  state: 'idle' | 'listing' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  files_total?: number;
  /** null: the cache reports bytes, not files (Fluid), until the warm-up is done. */
  files_done?: number | null;
  files_cached?: number | null;
  bytes_total?: number;
  /** null: nothing measurable is loaded (a PVC): the note says why. */
  bytes_done?: number | null;
  bytes_fetched?: number | null;
  percent?: number | null;
  throughput_bytes_per_second?: number | null;
  eta_seconds?: number | null;
  error?: string | null;
  /** What the cache cannot report (a cluster cache), shown instead of a number. */
  note?: string | null;
}

/**
 * A dataset as `GET /datasets` answers it (`Dataset`).
 */
export interface IDatasetInfo extends IDataset {
  options: { [key: string]: unknown };
  admin: boolean;
  pinned: boolean;
  mount_path: string | null;
  files: number | null;
  bytes: number | null;
  complete: boolean;
  /** null: the cluster cache cannot say (see cache_note). */
  cached_bytes?: number | null;
  cache_note?: string | null;
  warmup?: IWarmUp | null;
}

/**
 * The body of `POST /datasets` (`DatasetCreate`).
 */
export interface IDatasetCreate {
  name: string;
  source_url: string;
  include?: string;
  options?: { endpoint_url?: string; region?: string; anonymous?: boolean };
  /** Only its owner (and administrators) see, warm and mount it; default false. */
  private?: boolean;
}

/**
 * What `POST /datasets/{name}/refresh` found (`DatasetRefresh`).
 */
export interface IRefreshPreview {
  dataset: string;
  current_version: string | null;
  new_version: string;
  changed: boolean;
  added: number;
  removed: number;
  modified: number;
}

/**
 * Where a dataset was mounted (`DatasetMount`).
 */
export interface IMount {
  name: string;
  path: string;
  version: string;
  env: { [name: string]: string };
  /** What this mount got (as `IDataset.mount_protection`). */
  protection?: MountProtection;
}

function at(name: string, rest = ''): string {
  return `datasets/${encodeURIComponent(name)}${rest}`;
}

function post<T>(path: string, body: unknown = {}): Promise<T> {
  return requestAPI<T>(path, { method: 'POST', body: JSON.stringify(body) });
}

export function createDataset(body: IDatasetCreate): Promise<IDatasetInfo> {
  return post<IDatasetInfo>('datasets', body);
}

export function getDatasetInfo(name: string): Promise<IDatasetInfo> {
  return requestAPI<IDatasetInfo>(at(name), { method: 'GET' });
}

export function deleteDataset(name: string): Promise<void> {
  return requestAPI<void>(at(name), { method: 'DELETE' });
}

export function startWarmUp(name: string): Promise<IWarmUp> {
  return post<IWarmUp>(at(name, '/warm'));
}

export function getWarmUp(name: string): Promise<IWarmUp> {
  return requestAPI<IWarmUp>(at(name, '/warm'), { method: 'GET' });
}

export function cancelWarmUp(name: string): Promise<IWarmUp> {
  return requestAPI<IWarmUp>(at(name, '/warm'), { method: 'DELETE' });
}

export function refreshDataset(name: string): Promise<IRefreshPreview> {
  return post<IRefreshPreview>(at(name, '/refresh'));
}

export function confirmRefresh(name: string, version: string): Promise<IDatasetInfo> {
  return post<IDatasetInfo>(at(name, '/refresh/confirm'), { version });
}

export function mountDataset(name: string, path?: string): Promise<IMount> {
  return post<IMount>(at(name, '/mount'), path ? { path } : {});
}

export function unmountDataset(name: string): Promise<IDatasetInfo> {
  return requestAPI<IDatasetInfo>(at(name, '/mount'), { method: 'DELETE' });
}

/**
 * Whether a warm-up is still going.
 */
export function isRunning(warm: IWarmUp | null | undefined): boolean {
  return !!warm && (warm.state === 'listing' || warm.state === 'running');
}
