/**
 * The two sides of a comparison (two jobs or two versions of a model): their parameters, final
 * metrics and the metric curves logged with `labrig.log_metric`, and the diffs between them.
 */
import { getJobDetail, getJobMetrics, IMetricPoint } from '../jobs/api';
import { short } from '../links/api';
import { getVersion } from '../models/api';
import { toLabrigError } from '../request';

export interface ISide {
  /** What the side is called in headers and plot legends: `train-moons (1a2b3c4d…)`, `v3`. */
  title: string;
  kind: 'job' | 'version';
  jobId?: string;
  model?: string;
  version?: number;
  parameters: { [name: string]: unknown };
  metrics: { [name: string]: number };
  /** Metric name -> points (all ranks). */
  curves: { [name: string]: IMetricPoint[] };
  /** Why there are no curves, when there are none. */
  curvesNote?: string;
}

/**
 * The last value each metric was logged with (rank 0's, else the lowest rank's).
 */
export function finalMetrics(curves: { [name: string]: IMetricPoint[] }): {
  [name: string]: number;
} {
  const out: { [name: string]: number } = {};
  for (const [name, points] of Object.entries(curves)) {
    const rank = Math.min(...points.map(p => p.rank));
    const own = points.filter(p => p.rank === rank);
    if (own.length) {
      out[name] = own[own.length - 1].value;
    }
  }
  return out;
}

export async function loadJobSide(id: string): Promise<ISide> {
  const [job, metrics] = await Promise.all([getJobDetail(id), getJobMetrics(id)]);
  return {
    title: `${job.name} (${short(job.id)})`,
    kind: 'job',
    jobId: job.id,
    parameters: job.spec.parameters ?? {},
    metrics: finalMetrics(metrics.metrics),
    curves: metrics.metrics,
    curvesNote: Object.keys(metrics.metrics).length ? undefined : 'logged no metrics'
  };
}

export async function loadVersionSide(model: string, version: number): Promise<ISide> {
  const v = await getVersion(model, version);
  const lineage = v.lineage ?? {};
  const side: ISide = {
    title: `${model} v${version}`,
    kind: 'version',
    model,
    version,
    jobId: lineage.job_id,
    // What the job ran with, then what the registration recorded on top.
    parameters: { ...(lineage.parameters ?? {}), ...v.params },
    metrics: v.metrics,
    curves: {}
  };
  if (!lineage.job_id) {
    side.curvesNote = 'registered outside a job: no curves';
    return side;
  }
  try {
    side.curves = (await getJobMetrics(lineage.job_id)).metrics;
    if (!Object.keys(side.curves).length) {
      side.curvesNote = `job ${short(lineage.job_id)} logged no metrics`;
    }
  } catch (reason) {
    const error = toLabrigError(reason);
    side.curvesNote =
      error.status === 404
        ? `job ${short(lineage.job_id)} was deleted: its curves are gone`
        : error.message;
  }
  return side;
}

export interface IDiffRow {
  key: string;
  a: unknown;
  b: unknown;
  /** Present on one side only, or different. */
  changed: boolean;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * One row per key of either side, the changed ones first, each group by name.
 */
export function diffRows(a: { [key: string]: unknown }, b: { [key: string]: unknown }): IDiffRow[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const rows = keys.map(key => ({ key, a: a[key], b: b[key], changed: !same(a[key], b[key]) }));
  return [...rows.filter(r => r.changed), ...rows.filter(r => !r.changed)];
}

/**
 * `+0.031 (+3.4%)` from a to b; empty when either side lacks the metric.
 */
export function metricDelta(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined) {
    return '';
  }
  const delta = b - a;
  if (delta === 0) {
    return '=';
  }
  const sign = delta > 0 ? '+' : '−';
  const size = Math.abs(delta);
  const text =
    size >= 1000 || size < 0.001 ? size.toExponential(2) : String(Number(size.toPrecision(3)));
  const percent = a !== 0 ? ` (${sign}${Math.abs((delta / a) * 100).toFixed(1)}%)` : '';
  return `${sign}${text}${percent}`;
}
