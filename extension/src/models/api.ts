/**
 * Typed calls to the model registry's REST API (`/models/...` in openapi.yaml).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IListOptions, IPage, listPath } from '../api';
import { API_PATH, requestAPI } from '../request';

/**
 * One version of a registered model (`ModelVersion`).
 */
export interface IModelVersion {
  model: string;
  version: number;
  /** `name/version`. */
  ref: string;
  created_at: string;
  user: string;
  note: string;
  kind: 'file' | 'directory' | 'module';
  metrics: { [name: string]: number };
  params: { [name: string]: unknown };
  tags: { [key: string]: string };
  lineage: ILineage;
  size: number;
  file_count: number;
  aliases: string[];
  /** Only on a single version. */
  files?: IModelFile[];
}

export interface IModelFile {
  path: string;
  sha256: string;
  size: number;
}

/**
 * Where a version came from; every field is optional.
 */
export interface ILineage {
  job_id?: string;
  rank?: number;
  notebook_path?: string;
  snapshot_sha256?: string;
  source_path?: string;
  parameters?: { [name: string]: unknown };
  datasets?: { [name: string]: string };
  /** How many other users' private datasets were read (left out of `datasets`). */
  private_datasets?: number;
  environment?: { [name: string]: string };
  git?: { commit: string; dirty: boolean };
  [key: string]: unknown;
}

/**
 * One move of an alias (`ModelAliasEvent`).
 */
export interface IAliasEvent {
  id: number;
  model: string;
  alias: string;
  from_version: number | null;
  to_version: number | null;
  user: string;
  at: string;
}

/**
 * The body of `POST /models/{name}/versions`.
 */
export interface IRegisterBody {
  /** File or directory relative to the Jupyter root. */
  path: string;
  metrics?: { [name: string]: number };
  params?: { [name: string]: unknown };
  tags?: { [key: string]: string };
  note?: string;
}

export interface IVersionListOptions extends IListOptions {
  /** `version` (default), `created_at` or `metric:<name>`; sorted by the server. */
  sort?: string;
  order?: 'asc' | 'desc';
  /** Only the version this alias points at. */
  alias?: string;
  /** `KEY=VALUE`, each one required. */
  tags?: string[];
  /** `NAME>=NUMBER` (or `<=`, `>`, `<`, `=`), each one required. */
  metrics?: string[];
}

const JSON_HEADERS = { 'Content-Type': 'application/json' };

function modelPath(name: string): string {
  return `models/${encodeURIComponent(name)}`;
}

/**
 * One page of a model's versions, sorted and filtered on the server; pass the page's
 * `next_page_token` back with the same options for the next one.
 */
export function listVersions(
  name: string,
  options: IVersionListOptions = {}
): Promise<IPage<IModelVersion>> {
  let path = listPath(`${modelPath(name)}/versions`, options);
  const extra = new URLSearchParams();
  if (options.sort) {
    extra.set('sort', options.sort);
  }
  if (options.order) {
    extra.set('order', options.order);
  }
  if (options.alias) {
    extra.set('alias', options.alias);
  }
  for (const tag of options.tags ?? []) {
    extra.append('tag', tag);
  }
  for (const metric of options.metrics ?? []) {
    extra.append('metric', metric);
  }
  const query = extra.toString();
  if (query) {
    path += (path.includes('?') ? '&' : '?') + query;
  }
  return requestAPI<IPage<IModelVersion>>(path, { method: 'GET' });
}

export function getVersion(name: string, version: number | string): Promise<IModelVersion> {
  return requestAPI<IModelVersion>(
    `${modelPath(name)}/versions/${encodeURIComponent(String(version))}`,
    { method: 'GET' }
  );
}

export function registerVersion(name: string, body: IRegisterBody): Promise<IModelVersion> {
  return requestAPI<IModelVersion>(`${modelPath(name)}/versions`, {
    method: 'POST',
    headers: JSON_HEADERS,
    body: JSON.stringify(body)
  });
}

export function deleteVersion(name: string, version: number): Promise<void> {
  return requestAPI<void>(`${modelPath(name)}/versions/${version}`, { method: 'DELETE' });
}

export function deleteModel(name: string): Promise<void> {
  return requestAPI<void>(modelPath(name), { method: 'DELETE' });
}

export function setAlias(
  name: string,
  alias: string,
  version: number
): Promise<{ model: string; alias: string; version: number }> {
  return requestAPI(`${modelPath(name)}/aliases/${encodeURIComponent(alias)}`, {
    method: 'PUT',
    headers: JSON_HEADERS,
    body: JSON.stringify({ version })
  });
}

export function deleteAlias(name: string, alias: string): Promise<void> {
  return requestAPI<void>(`${modelPath(name)}/aliases/${encodeURIComponent(alias)}`, {
    method: 'DELETE'
  });
}

export function aliasHistory(name: string, options?: IListOptions): Promise<IPage<IAliasEvent>> {
  return requestAPI<IPage<IAliasEvent>>(listPath(`${modelPath(name)}/alias-history`, options), {
    method: 'GET'
  });
}

/**
 * The download URL of one file of a version (served with the user's cookie).
 */
export function fileUrl(name: string, version: number, path: string): string {
  const settings = ServerConnection.makeSettings();
  return URLExt.join(
    settings.baseUrl,
    API_PATH,
    modelPath(name),
    'versions',
    String(version),
    'files',
    path.split('/').map(encodeURIComponent).join('/')
  );
}

/**
 * `acc=0.91, loss=0.3` -> `{acc: 0.91, loss: 0.3}`; throws with a readable message.
 */
export function parseMetrics(text: string): { [name: string]: number } {
  const metrics: { [name: string]: number } = {};
  for (const part of text.split(/[,\n]/)) {
    const item = part.trim();
    if (!item) {
      continue;
    }
    const eq = item.indexOf('=');
    if (eq <= 0) {
      throw new Error(`"${item}" is not NAME=NUMBER`);
    }
    const value = Number(item.slice(eq + 1).trim());
    if (!Number.isFinite(value) || item.slice(eq + 1).trim() === '') {
      throw new Error(`metric ${item.slice(0, eq).trim()} is not a finite number`);
    }
    metrics[item.slice(0, eq).trim()] = value;
  }
  return metrics;
}

/**
 * The Python a notebook runs to load a version.
 */
export function loadSnippet(ref: string): string {
  return `import labrig.models\nmodel = labrig.models.load("${ref}")`;
}
