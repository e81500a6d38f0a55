/**
 * Typed calls for the Resources section (`/resources/{path}`, `/resource-usage/{path}`,
 * `/resource-profiles`, `/resource-capacity` in `openapi.yaml`).
 */
import { requestAPI } from '../request';

export type EnforcementState = 'enforced' | 'advisory';

export interface IEnforcement {
  state: EnforcementState;
  mechanism: string;
}

export interface IEnforcementMap {
  cpu: IEnforcement;
  memory: IEnforcement;
  gpu: IEnforcement;
  disk: IEnforcement;
}

export interface IGpu {
  uuid: string;
  model: string | null;
  memory?: number | null;
}

/** A saved request, as the server resolved it (`ResolvedRequest`). */
export interface IResolvedRequest {
  notebook_path: string;
  profile: string | null;
  cpus: number | null;
  memory: number | null;
  gpus: number;
  gpu_type: string | null;
  disk: number | null;
}

export interface IStopEvent {
  holder: string;
  message: string;
  at: string;
}

export interface IAllocation {
  holder: string;
  pid: number | null;
  cpus: number | null;
  memory: number | null;
  disk: number | null;
  gpus: IGpu[];
  acquired_at: string;
}

/** `ResourceShow` (+ `restarted_kernels` after PUT/DELETE). */
export interface IResourceShow {
  notebook_path: string;
  request: IResolvedRequest | null;
  /** Who saved the request; null when none is saved. */
  owner: string | null;
  /** Whether this user may change or release it (else saving answers 403). */
  may_change: boolean;
  allocations: IAllocation[];
  scratch_dir: string;
  enforcement: IEnforcementMap;
  last_stop: IStopEvent | null;
  restarted_kernels?: string[];
}

export interface IUsageDimension extends IEnforcement {
  limit: number | null;
  used: number | null;
  percent: number | null;
}

export interface IGpuUsage {
  uuid: string;
  model: string | null;
  memory_total: number | null;
  utilization: number | null;
  memory_used: number | null;
}

/** Why the notebook's kernel is not running yet (its pod waits for a node, an image, quota). */
export interface IKernelWait {
  kernel_id: string;
  reason: string;
  /** Seconds it has waited. */
  waiting_for: number;
  /** Seconds until its start is given up; null: no limit. */
  gives_up_in: number | null;
}

/** `ResourceUsage`: one live sample. */
export interface IResourceUsage {
  notebook_path: string;
  running: boolean;
  kernels: string[];
  sampled_at: string;
  cpu: IUsageDimension;
  memory: IUsageDimension;
  gpus: IGpuUsage[];
  gpu: IEnforcement & { requested: number };
  disk: IUsageDimension & { over_quota: boolean; warning: string | null };
  last_stop: IStopEvent | null;
  waiting: IKernelWait | null;
}

export interface IResourceProfile {
  slug: string;
  display_name: string;
  description: string;
  default: boolean;
  cpus: number | null;
  memory: number | null;
  gpus: number;
  gpu_type: string | null;
  disk: number | null;
  allow_custom: boolean;
  bounds: { [dimension: string]: { min?: number; max?: number } };
}

export interface IResourceProfiles {
  items: IResourceProfile[];
  default: string | null;
}

/** The body of PUT `/resources/{path}`: quantities as typed (`4Gi`, `500m`). */
export interface IResourceRequestBody {
  profile?: string;
  cpus?: string | number;
  memory?: string | number;
  gpus?: number | string;
  gpu_type?: string | null;
  disk?: string | number;
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

export function showResources(notebookPath: string): Promise<IResourceShow> {
  return requestAPI<IResourceShow>(`resources/${encodePath(notebookPath)}`, { method: 'GET' });
}

export function requestResources(
  notebookPath: string,
  body: IResourceRequestBody
): Promise<IResourceShow> {
  return requestAPI<IResourceShow>(`resources/${encodePath(notebookPath)}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body)
  });
}

export function releaseResources(notebookPath: string): Promise<IResourceShow> {
  return requestAPI<IResourceShow>(`resources/${encodePath(notebookPath)}`, { method: 'DELETE' });
}

export function getResourceUsage(notebookPath: string): Promise<IResourceUsage> {
  return requestAPI<IResourceUsage>(`resource-usage/${encodePath(notebookPath)}`, {
    method: 'GET'
  });
}

export function listResourceProfiles(): Promise<IResourceProfiles> {
  return requestAPI<IResourceProfiles>('resource-profiles', { method: 'GET' });
}

/** One GPU of this host and who holds it (`GpuHolders`). */
export interface IGpuHolder extends IGpu {
  /** `kernel:<id>` or `job:<id>/rank<r>`; null when free. */
  holder: string | null;
  /** Whether the holder's process still runs. */
  alive: boolean;
  notebook_path: string | null;
  kernel_id: string | null;
  /**
   * The job a rank belongs to; `name` is null when the job was deleted or is `hidden` (another
   * user's job: only its id is shown, and `notebook_path` is null).
   */
  job: {
    id: string;
    rank: number;
    name: string | null;
    status: string | null;
    hidden: boolean;
  } | null;
}

/**
 * This host's GPUs and their holders. Read-only on the server (unlike `resource-capacity`,
 * which frees what dead holders held first), so the panel may poll it.
 */
export function getGpuHolders(): Promise<{ gpus: IGpuHolder[] }> {
  return requestAPI<{ gpus: IGpuHolder[] }>('resource-gpus', { method: 'GET' });
}
