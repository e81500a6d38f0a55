/**
 * This host's GPUs and the job ranks and kernels holding them, each holder a link (a job opens
 * its view, a kernel its notebook).
 */
import * as React from 'react';

import { short } from '../links/api';
import { EntityLink, HiddenEntity } from '../links/links';
import { useLoad } from '../models/common';
import { basename } from '../panel/format';
import { getGpuHolders, IGpuHolder } from './api';

function Holder(props: { gpu: IGpuHolder }): JSX.Element {
  const { holder, job, notebook_path: path } = props.gpu;
  if (!holder) {
    return <span className="labrig-Muted">free</span>;
  }
  const stale = props.gpu.alive ? '' : ' (its process is gone; freed at the next grant)';
  if (job?.hidden) {
    return (
      <>
        held by <HiddenEntity>a job of another user</HiddenEntity> rank {job.rank}
        {stale}
      </>
    );
  }
  if (job) {
    return (
      <>
        held by{' '}
        <EntityLink
          exists={job.name !== null}
          label={`Open job ${job.name ?? job.id}, rank ${job.rank}`}
          open={l => l.openJob(job.id)}
        >
          job {job.name ?? short(job.id)}
        </EntityLink>{' '}
        rank {job.rank}
        {job.status ? ` · ${job.status.toLowerCase()}` : ''}
        {stale}
      </>
    );
  }
  if (path) {
    return (
      <>
        held by the kernel of{' '}
        <EntityLink label={`Open notebook ${path}`} open={l => l.openNotebook(path)}>
          {basename(path)}
        </EntityLink>
        {stale}
      </>
    );
  }
  return <>held by {holder}</>;
}

/**
 * `refreshKey` changes whenever the panel refreshes, so holders stay current.
 */
export function GpuHolders(props: { refreshKey: unknown }): JSX.Element | null {
  const { value: capacity, error } = useLoad(() => getGpuHolders(), [props.refreshKey]);
  const gpus = capacity?.gpus ?? [];
  if (capacity && gpus.length === 0 && !error) {
    // One quiet line on a laptop; the list where there are GPUs to share.
    return (
      <p className="labrig-Muted labrig-GpuHolders" data-testid="labrig-no-gpus">
        No GPUs on this host.
      </p>
    );
  }
  return (
    <div className="labrig-GpuHolders" data-testid="labrig-gpu-holders">
      <h4 className="labrig-Subheading">GPUs on this host</h4>
      {error && (
        <div className="labrig-Error" role="alert">
          {error}
        </div>
      )}
      {gpus.length > 0 && (
        <ul className="labrig-List" aria-label="GPUs on this host">
          {gpus.map((gpu, index) => (
            <li key={gpu.uuid} className="labrig-Item" data-testid="labrig-gpu">
              <div className="labrig-Item-primary">
                <span className="labrig-Item-name" title={gpu.uuid}>
                  GPU {index} {gpu.model ?? ''}
                </span>
              </div>
              <div className="labrig-Item-secondary">
                <Holder gpu={gpu} />
              </div>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
