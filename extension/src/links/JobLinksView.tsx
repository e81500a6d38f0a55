/**
 * What a job ran with (its notebook snapshot and parameters, dataset versions, resources) and
 * what it registered (model versions), each a link; and "Compare with" another job.
 */
import * as React from 'react';

import { IJob, listJobs } from '../api';
import { useLoad } from '../models/common';
import { formatRelative } from '../panel/format';
import { getJobLinks, IJobLinks, short } from './api';
import { EntityLink, HiddenEntity, useLinks } from './links';
import { describeParameters, describeResources } from './LineageView';

function DatasetsLine(props: { links: IJobLinks }): JSX.Element {
  if (props.links.datasets.length === 0) {
    return <span className="labrig-Muted">none</span>;
  }
  return (
    <ul className="labrig-InlineList">
      {props.links.datasets.map((d, index) =>
        d.name === null ? (
          <li key={`hidden-${index}`} data-testid="labrig-job-dataset">
            <HiddenEntity>a private dataset</HiddenEntity>
          </li>
        ) : (
          <li key={d.name} data-testid="labrig-job-dataset">
            <EntityLink
              exists={d.exists}
              label={`Open dataset ${d.name}`}
              open={l => l.openDataset(d.name as string)}
            >
              {d.name}
            </EntityLink>{' '}
            <span className="labrig-Muted" title={d.version ?? undefined}>
              {d.version ? `@ ${short(d.version)}` : '(version not recorded)'}
              {d.exists && d.version && d.current_version && d.current_version !== d.version
                ? ` · pinned now: ${short(d.current_version)}`
                : ''}
            </span>
          </li>
        )
      )}
    </ul>
  );
}

export function JobLinksView(props: {
  jobId: string;
  status: string;
  finalized?: boolean;
}): JSX.Element {
  // Read again when the status moves, and once the ended job is finalized: what its ranks
  // staged and its declared outputs are registered just after its final status.
  const { value: links, error } = useLoad(
    () => getJobLinks(props.jobId),
    [props.jobId, props.status, props.finalized]
  );
  if (error) {
    return (
      <div className="labrig-Error" role="alert">
        {error}
      </div>
    );
  }
  if (!links) {
    return <p className="labrig-Loading">Reading what the job ran with…</p>;
  }
  const granted = Object.entries(links.resources.gpus_granted).filter(([, gpus]) => gpus.length);
  const parameters = describeParameters(links.parameters);
  return (
    <section
      className="labrig-JobLinks"
      aria-label="What this job ran with and registered"
      data-testid="labrig-job-links"
    >
      <h4>Ran with</h4>
      <dl className="labrig-KeyValues">
        <dt>Notebook</dt>
        <dd>
          {links.snapshot ? (
            <EntityLink
              exists={links.snapshot.exists}
              testId="labrig-job-snapshot"
              label={`Open the snapshot of ${links.notebook_path} this job ran, read-only`}
              open={l =>
                l.openSnapshot(links.snapshot!.sha256, {
                  notebookPath: links.notebook_path,
                  parameters: links.parameters,
                  jobId: links.job_id
                })
              }
            >
              {links.notebook_path} @ {short(links.snapshot.sha256)}
            </EntityLink>
          ) : (
            links.notebook_path
          )}
        </dd>
        <dt>Parameters</dt>
        <dd data-testid="labrig-job-parameters">
          {parameters || <span className="labrig-Muted">defaults</span>}
        </dd>
        <dt>Datasets</dt>
        <dd>
          <DatasetsLine links={links} />
        </dd>
        <dt>Resources</dt>
        <dd data-testid="labrig-job-resources">
          {describeResources(links.resources, links.resources.world_size)}
          {granted.map(([rank, gpus]) => (
            <div key={rank} className="labrig-Muted">
              rank {rank}: {gpus.join(', ')}
            </div>
          ))}
        </dd>
      </dl>
      <h4>Registered</h4>
      {links.model_versions.length === 0 ? (
        <p className="labrig-Muted" data-testid="labrig-job-no-versions">
          No model versions{' '}
          {['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(links.status) ? '' : 'yet'}
        </p>
      ) : (
        <ul className="labrig-InlineList" data-testid="labrig-job-versions">
          {links.model_versions.map(v => (
            <li key={v.ref}>
              <EntityLink
                label={`Open model version ${v.model} v${v.version}`}
                open={l => l.openModelVersion(v.model, v.version)}
              >
                {v.model} v{v.version}
              </EntityLink>{' '}
              <span className="labrig-Muted">
                {Object.entries(v.metrics)
                  .map(([name, value]) => `${name} ${value.toPrecision(3)}`)
                  .join(', ')}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/**
 * Pick another job (the same notebook's first) and compare the two side by side.
 */
export function CompareWith(props: { job: IJob }): JSX.Element {
  const links = useLinks();
  const { value: page } = useLoad(() => listJobs({ limit: 100 }), [props.job.id]);
  const [other, setOther] = React.useState('');
  const [notice, setNotice] = React.useState<string | null>(null);
  const others = (page?.items ?? []).filter(job => job.id !== props.job.id);
  const sameFirst = [
    ...others.filter(job => job.notebook_path === props.job.notebook_path),
    ...others.filter(job => job.notebook_path !== props.job.notebook_path)
  ];
  const chosen = other || sameFirst[0]?.id || '';
  return (
    <div className="labrig-CompareWith">
      <label htmlFor={`labrig-compare-${props.job.id}`}>Compare with</label>{' '}
      <select
        id={`labrig-compare-${props.job.id}`}
        value={chosen}
        disabled={sameFirst.length === 0}
        onChange={event => setOther(event.target.value)}
      >
        {sameFirst.length === 0 && <option value="">no other job</option>}
        {sameFirst.map(job => (
          <option key={job.id} value={job.id}>
            {job.name} · {job.status.toLowerCase()} · {formatRelative(job.created_at)}
          </option>
        ))}
      </select>{' '}
      <button
        type="button"
        disabled={!chosen}
        onClick={() => void links.compareJobs(props.job.id, chosen).then(setNotice)}
      >
        Compare
      </button>
      {notice && (
        <span className="labrig-LinkGone" role="status">
          {notice}
        </span>
      )}
    </div>
  );
}
