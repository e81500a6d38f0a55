/**
 * Typed calls for the cross-links between sections (`/jobs/{id}/links`,
 * `/datasets/{name}/users`, `/snapshots/{sha256}`, `/models/{name}/versions/{v}/lineage`).
 */
import { requestAPI } from '../request';

/**
 * A dataset version something used, and whether the catalog still has it. Another user's
 * private dataset is `hidden`: its name and versions are null.
 */
export interface IDatasetRef {
  name: string | null;
  /** The version used; null when it was never recorded. */
  version: string | null;
  exists: boolean;
  /** The catalog's pinned version now. */
  current_version: string | null;
  private: boolean;
  hidden: boolean;
}

export interface IJobResources {
  nodes: number;
  procs_per_node: number;
  world_size: number;
  /** Per rank. */
  cpus: number | null;
  /** Bytes per rank. */
  memory: number | null;
  gpus: number;
  gpu_type: string | null;
  /** rank -> GPU UUIDs. */
  gpus_granted: { [rank: string]: string[] };
}

export interface IRegisteredVersion {
  model: string;
  version: number;
  ref: string;
  created_at: string;
  metrics: { [name: string]: number };
  rank?: number | null;
}

/** `JobLinks`. */
export interface IJobLinks {
  job_id: string;
  name: string;
  status: string;
  notebook_path: string;
  parameters: { [name: string]: unknown };
  snapshot: { sha256: string; exists: boolean } | null;
  datasets: IDatasetRef[];
  resources: IJobResources;
  model_versions: IRegisteredVersion[];
}

/** `DatasetUsers`. */
export interface IDatasetUsers {
  dataset: string;
  version: string | null;
  mount_path: string | null;
  kernels: Array<{
    kernel_id: string;
    kernel_name?: string | null;
    notebook_path: string | null;
    execution_state?: string | null;
  }>;
  jobs: Array<{ id: string; name: string; status: string; notebook_path: string }>;
}

/** `Snapshot`. */
export interface ISnapshot {
  sha256: string;
  notebook_path: string | null;
  jobs: Array<{
    id: string;
    name: string;
    status: string;
    notebook_path: string;
    parameters: { [name: string]: unknown };
  }>;
  /** nbformat 4. */
  notebook: { cells: unknown[]; metadata: { [key: string]: unknown }; [key: string]: unknown };
}

export type LineageKind = 'dataset' | 'snapshot' | 'notebook' | 'job' | 'model_version';

/** One node of `LineageGraph`; which fields are set depends on `kind`. */
export interface ILineageNode {
  id: string;
  kind: LineageKind;
  label: string;
  exists: boolean;
  /**
   * It exists but is another user's: a job keeps only `job_id` and `rank`, a snapshot cannot
   * be opened, a private dataset has no name or version.
   */
  hidden: boolean;
  // dataset
  name?: string | null;
  private?: boolean;
  version?: string | number | null;
  current_version?: string | null;
  current?: boolean;
  // snapshot, notebook
  sha256?: string;
  notebook_path?: string | null;
  parameters?: { [name: string]: unknown };
  // job
  job_id?: string;
  status?: string;
  reason?: string | null;
  ranks?: number;
  rank?: number | null;
  resources?: IJobResources;
  started_at?: string | null;
  finished_at?: string | null;
  duration_seconds?: number | null;
  // model_version
  model?: string;
  metrics?: { [name: string]: number };
  aliases?: string[];
}

export interface ILineageEdge {
  source: string;
  target: string;
  label: string;
}

/** `LineageGraph`. */
export interface ILineageGraph {
  model: string;
  version: number;
  nodes: ILineageNode[];
  edges: ILineageEdge[];
}

export function getJobLinks(jobId: string): Promise<IJobLinks> {
  return requestAPI<IJobLinks>(`jobs/${encodeURIComponent(jobId)}/links`, { method: 'GET' });
}

export function getDatasetUsers(name: string): Promise<IDatasetUsers> {
  return requestAPI<IDatasetUsers>(`datasets/${encodeURIComponent(name)}/users`, {
    method: 'GET'
  });
}

export function getSnapshot(sha256: string): Promise<ISnapshot> {
  return requestAPI<ISnapshot>(`snapshots/${encodeURIComponent(sha256)}`, { method: 'GET' });
}

export function getLineage(model: string, version: number | string): Promise<ILineageGraph> {
  return requestAPI<ILineageGraph>(
    `models/${encodeURIComponent(model)}/versions/${encodeURIComponent(String(version))}/lineage`,
    { method: 'GET' }
  );
}

/**
 * The first characters of an id or hash, as people quote them: `1a2b3c4d…`.
 */
export function short(value: string, length = 8): string {
  return value.length <= length ? value : `${value.slice(0, length)}…`;
}
