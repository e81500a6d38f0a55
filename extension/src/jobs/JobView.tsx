/**
 * One job, live: status, per-rank progress bars, the log of a chosen rank and metric plots,
 * streamed over server-sent events; cancel, re-run, delete and open the output notebook.
 */
import * as React from 'react';

import { CompareWith, JobLinksView } from '../links/JobLinksView';
import { short } from '../links/api';
import { ByOwner } from '../panel/owner';
import { toLabrigError } from '../request';
import {
  cancelJob,
  deleteJob,
  getJobDetail,
  IJobDetail,
  IMetricPoint,
  IRankProgress,
  jobEventsUrl,
  rerunJob
} from './api';
import { MetricPlot } from './MetricPlot';

const FINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED'];
const MAX_LOG = 200_000;

export interface IJobViewProps {
  jobId: string;
  /** Open a notebook (relative to the server root) in JupyterLab. */
  onOpenNotebook?: (path: string) => void;
  /** Show another job (after a re-run). */
  onOpenJob?: (id: string) => void;
  onDeleted?: () => void;
  /** Injected in tests. */
  eventSource?: (url: string) => EventSource;
}

export function JobView(props: IJobViewProps): JSX.Element {
  const { jobId, eventSource } = props;
  const [job, setJob] = React.useState<IJobDetail | null>(null);
  const [ranks, setRanks] = React.useState<IRankProgress[]>([]);
  const [logs, setLogs] = React.useState<{ [rank: number]: string }>({});
  const [rank, setRank] = React.useState(0);
  const [metrics, setMetrics] = React.useState<{ [name: string]: IMetricPoint[] }>({});
  const [error, setError] = React.useState<string | null>(null);

  React.useEffect(() => {
    let live = true;
    getJobDetail(jobId)
      .then(value => {
        if (live) {
          setJob(value);
          setRanks(value.ranks ?? []);
        }
      })
      .catch(err => {
        const error = toLabrigError(err);
        if (live) {
          setError(error.status === 404 ? `job ${short(jobId)} was deleted` : error.message);
        }
      });
    const open = eventSource ?? ((url: string) => new EventSource(url));
    const source = open(jobEventsUrl(jobId));
    const data = (event: Event) => JSON.parse((event as MessageEvent).data);
    source.addEventListener('status', event => setJob(data(event)));
    source.addEventListener('progress', event => setRanks(data(event)));
    source.addEventListener('log', event => {
      const { rank: r, text } = data(event) as { rank: number; text: string };
      setLogs(old => ({ ...old, [r]: ((old[r] ?? '') + text).slice(-MAX_LOG) }));
    });
    source.addEventListener('metric', event => {
      const { rank: r, points } = data(event) as {
        rank: number;
        points: Array<{ name: string; value: number; step: number | null }>;
      };
      setMetrics(old => {
        const next = { ...old };
        for (const p of points) {
          next[p.name] = [...(next[p.name] ?? []), { step: p.step, value: p.value, rank: r }];
        }
        return next;
      });
    });
    source.addEventListener('end', () => source.close());
    return () => {
      live = false;
      source.close();
    };
  }, [jobId, eventSource]);

  const act = async (fn: () => Promise<unknown>): Promise<void> => {
    try {
      setError(null);
      await fn();
    } catch (err) {
      setError(toLabrigError(err).message);
    }
  };

  if (!job) {
    return (
      <div
        className="labrig-JobView"
        role={error ? 'alert' : undefined}
        data-testid="labrig-job-view-empty"
      >
        {error ?? 'Loading job…'}
      </div>
    );
  }
  const active = !FINAL.includes(job.status);
  return (
    <div className="labrig-JobView" data-testid="labrig-job-view">
      <h3>
        {job.name}{' '}
        <span
          className={`labrig-JobStatus labrig-JobStatus-${job.status.toLowerCase()}`}
          data-testid="labrig-job-status"
        >
          {job.status.toLowerCase()}
        </span>
      </h3>
      {job.owner && (
        <p className="labrig-Item-secondary">
          Submitted <ByOwner owner={job.owner} role="Submitted by" />
        </p>
      )}
      {job.reason && (
        <p className="labrig-JobReason" data-testid="labrig-job-reason">
          {job.reason}
        </p>
      )}
      <div className="labrig-JobActions">
        {active && (
          <button type="button" onClick={() => void act(() => cancelJob(jobId).then(setJob))}>
            Cancel
          </button>
        )}
        <button
          type="button"
          onClick={() => void act(() => rerunJob(jobId).then(j => props.onOpenJob?.(j.id)))}
        >
          Re-run
        </button>
        <button
          type="button"
          onClick={() => void act(() => deleteJob(jobId).then(() => props.onDeleted?.()))}
        >
          Delete
        </button>
        {job.output_path && (
          <button
            type="button"
            data-testid="labrig-open-output"
            onClick={() => props.onOpenNotebook?.(job.output_path as string)}
          >
            Open output notebook
          </button>
        )}
      </div>
      {error && (
        <div className="labrig-Error" role="alert">
          {error}
        </div>
      )}
      <JobLinksView jobId={jobId} status={job.status} finalized={job.finalized} />
      <CompareWith job={job} />
      <div className="labrig-Ranks" role="group" aria-label="Progress per rank">
        {ranks.map(r => (
          <div key={r.rank} className="labrig-Rank" data-testid="labrig-rank-progress">
            <span>rank {r.rank}</span>
            <progress
              max={r.cells ?? 1}
              value={r.cells_done}
              aria-label={`Progress of rank ${r.rank}`}
            />
            <span className="labrig-Muted">
              cell {r.cells_done} of {r.cells ?? '?'}
              {r.elapsed !== null ? ` · ${Math.round(r.elapsed)} s` : ''}
            </span>
          </div>
        ))}
      </div>
      {Object.entries(metrics).map(([name, points]) => (
        <MetricPlot key={name} name={name} points={points} />
      ))}
      <div className="labrig-Logs">
        <label>
          Log of rank{' '}
          <select value={rank} onChange={e => setRank(Number(e.target.value))}>
            {Array.from({ length: job.world_size || 1 }, (_, r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <pre className="labrig-Log" data-testid="labrig-job-log">
          {logs[rank] ?? ''}
        </pre>
      </div>
    </div>
  );
}
