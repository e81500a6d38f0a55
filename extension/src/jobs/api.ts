/**
 * Typed calls for the jobs section (see `labrig/openapi.yaml`), all through `requestAPI`.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IJob, IListOptions, IPage, listPath } from '../api';
import { API_PATH, requestAPI } from '../request';

export type ParamType = 'bool' | 'int' | 'float' | 'str' | 'list' | 'dict' | 'any';

export interface IFormParameter {
  name: string;
  type: ParamType;
  optional: boolean;
  declared_type: string | null;
  /** The default as Python source. */
  default: string | null;
  /** The default as a JSON value when it is a literal. */
  value: unknown;
  help: string;
}

export interface IJobForm {
  notebook_path: string;
  has_parameters_cell: boolean;
  note: string | null;
  kernel_name: string | null;
  parameters: IFormParameter[];
  defaults: {
    nodes: number;
    procs_per_node: number;
    cpus: number;
    memory: number | null;
    gpus: number;
    gpu_type: string | null;
    /** The datasets mounted on the host (every kernel sees them). */
    datasets: string[];
    priority: number;
    name: string;
  };
  host: { cpus: number; memory: number; gpus: number; gpu_types: string[] };
}

export interface IJobCreate {
  notebook_path: string;
  parameters?: { [name: string]: unknown };
  strict?: boolean;
  nodes?: number;
  procs_per_node?: number;
  /** A number of CPUs or a quantity: 2, 0.5, "500m". */
  cpus?: number | string;
  /** Bytes or a quantity: "4Gi", "4096Mi", "4G". */
  memory?: number | string | null;
  gpus?: number;
  gpu_type?: string | null;
  datasets?: string[];
  env?: { [name: string]: string };
  name?: string;
  priority?: number;
  timeout?: number | null;
}

export interface IRankProgress {
  rank: number;
  cell: number | null;
  cells_done: number;
  cells: number | null;
  state: string | null;
  updated_at: number | null;
  elapsed: number | null;
}

export interface IJobDetail extends IJob {
  priority: number;
  world_size: number;
  starting_at: string | null;
  output_path: string | null;
  snapshot_sha256: string | null;
  rerun_of: string | null;
  spec: { parameters?: { [name: string]: unknown }; [key: string]: unknown };
  ranks?: IRankProgress[];
}

export interface IMetricPoint {
  step: number | null;
  value: number;
  rank: number;
}

export interface ILogChunk {
  rank: number;
  offset: number;
  next_offset: number;
  size: number;
  text: string;
  done: boolean;
}

export interface ISchedule {
  id: string;
  name: string;
  cron: string;
  notebook_path: string;
  paused: boolean;
  created_at: string;
  /** The last cron occurrence that fired (its creation or resumption before the first). */
  last_occurrence?: string;
  /** The job the last occurrence started, null before the first. */
  last_job_id?: string | null;
  /** Null while paused. */
  next_run_at: string | null;
  /** Who created it; the jobs it fires are theirs; null on records from before owners were recorded (everyone's). */
  owner: string | null;
}

const job = (id: string, rest = ''): string => `jobs/${encodeURIComponent(id)}${rest}`;

export function getJobForm(path: string): Promise<IJobForm> {
  const encoded = path.split('/').map(encodeURIComponent).join('/');
  return requestAPI<IJobForm>(`job-form/${encoded}`, { method: 'GET' });
}

export function submitJob(body: IJobCreate): Promise<IJobDetail> {
  return requestAPI<IJobDetail>('jobs', { method: 'POST', body: JSON.stringify(body) });
}

export function createSchedule(cron: string, body: IJobCreate): Promise<ISchedule> {
  return requestAPI<ISchedule>('job-schedules', {
    method: 'POST',
    body: JSON.stringify({ cron, job: body })
  });
}

const schedule = (id: string, rest = ''): string =>
  `job-schedules/${encodeURIComponent(id)}${rest}`;

export function listSchedules(options?: IListOptions): Promise<IPage<ISchedule>> {
  return requestAPI<IPage<ISchedule>>(listPath('job-schedules', options), { method: 'GET' });
}

export function pauseSchedule(id: string): Promise<ISchedule> {
  return requestAPI<ISchedule>(schedule(id, '/pause'), { method: 'POST', body: '{}' });
}

export function resumeSchedule(id: string): Promise<ISchedule> {
  return requestAPI<ISchedule>(schedule(id, '/resume'), { method: 'POST', body: '{}' });
}

/**
 * Start a job from the schedule now, outside its cron occurrences.
 */
export function runScheduleNow(id: string): Promise<IJobDetail> {
  return requestAPI<IJobDetail>(schedule(id, '/run'), { method: 'POST', body: '{}' });
}

/**
 * Delete a schedule; the jobs it started are kept.
 */
export function deleteSchedule(id: string): Promise<void> {
  return requestAPI<void>(schedule(id), { method: 'DELETE' });
}

export function getJobDetail(id: string): Promise<IJobDetail> {
  return requestAPI<IJobDetail>(job(id), { method: 'GET' });
}

export function cancelJob(id: string): Promise<IJobDetail> {
  return requestAPI<IJobDetail>(job(id, '/cancel'), { method: 'POST', body: '{}' });
}

export function rerunJob(id: string, changes: Partial<IJobCreate> = {}): Promise<IJobDetail> {
  return requestAPI<IJobDetail>(job(id, '/rerun'), {
    method: 'POST',
    body: JSON.stringify(changes)
  });
}

export function deleteJob(id: string): Promise<void> {
  return requestAPI<void>(job(id), { method: 'DELETE' });
}

export function getJobLogs(id: string, rank: number, offset: number): Promise<ILogChunk> {
  return requestAPI<ILogChunk>(job(id, `/logs?rank=${rank}&offset=${offset}`), { method: 'GET' });
}

export function getJobMetrics(
  id: string
): Promise<{ job_id: string; metrics: { [name: string]: IMetricPoint[] } }> {
  return requestAPI(job(id, '/metrics'), { method: 'GET' });
}

/**
 * The URL of a job's server-sent events, authenticated with the server's token (EventSource
 * cannot send headers; the cookie covers token-less setups).
 */
export function jobEventsUrl(
  id: string,
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): string {
  const url = URLExt.join(settings.baseUrl, API_PATH, job(id, '/events'));
  return settings.token ? `${url}?token=${encodeURIComponent(settings.token)}` : url;
}

/**
 * Turn what a person typed into the parameter's JSON value; throws with a readable message.
 */
export function parseParameter(param: IFormParameter, raw: string | boolean): unknown {
  if (param.type === 'bool') {
    return Boolean(raw);
  }
  const text = String(raw).trim();
  if (text === '' && param.optional) {
    return null;
  }
  switch (param.type) {
    case 'str':
      return String(raw);
    case 'int':
      if (!/^[-+]?\d+$/.test(text)) {
        throw new Error(`${param.name} must be a whole number`);
      }
      return Number(text);
    case 'float': {
      const value = Number(text);
      if (text === '' || Number.isNaN(value)) {
        throw new Error(`${param.name} must be a number`);
      }
      return value;
    }
    default:
      try {
        const value = JSON.parse(text);
        if (param.type === 'list' && !Array.isArray(value)) {
          throw new Error();
        }
        if (param.type === 'dict' && (typeof value !== 'object' || Array.isArray(value))) {
          throw new Error();
        }
        return value;
      } catch {
        throw new Error(
          `${param.name} must be ${param.type === 'any' ? 'a JSON value' : `a JSON ${param.type}`}`
        );
      }
  }
}

/**
 * How a default shows in its input.
 */
export function initialText(param: IFormParameter): string | boolean {
  if (param.type === 'bool') {
    return param.value === true;
  }
  if (param.value === null || param.value === undefined) {
    return param.type === 'str' ? '' : (param.default ?? '');
  }
  return param.type === 'str' ? String(param.value) : JSON.stringify(param.value);
}
