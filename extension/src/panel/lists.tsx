import * as React from 'react';

import { IJob, IModel, IResourceRequest } from '../api';
import { basename, formatAbsolute, formatBytes, formatRelative, plural } from './format';

/**
 * Resource requests, one per notebook.
 */
export function ResourcesList(props: {
  items: ReadonlyArray<IResourceRequest>;
}): JSX.Element | null {
  if (props.items.length === 0) {
    return null;
  }
  return (
    <ul className="labrig-List" aria-label="Resource requests">
      {props.items.map(item => (
        <li key={item.notebook_path} className="labrig-Item" data-testid="labrig-resource">
          <div className="labrig-Item-primary">
            <span className="labrig-Item-name" title={item.notebook_path}>
              {basename(item.notebook_path)}
            </span>
            {item.profile && <span className="labrig-Tag">{item.profile}</span>}
          </div>
          <div className="labrig-Item-secondary">{describeResources(item)}</div>
        </li>
      ))}
    </ul>
  );
}

/**
 * "4 CPUs · 16 GiB memory · 1 GPU (A100) · 50 GiB disk".
 */
export function describeResources(item: IResourceRequest): string {
  const parts: string[] = [];
  if (item.cpus !== null) {
    parts.push(plural(item.cpus, 'CPU'));
  }
  if (item.memory !== null) {
    parts.push(`${formatBytes(item.memory)} memory`);
  }
  if (item.gpus > 0) {
    parts.push(plural(item.gpus, 'GPU') + (item.gpu_type ? ` (${item.gpu_type})` : ''));
  }
  if (item.disk !== null) {
    parts.push(`${formatBytes(item.disk)} disk`);
  }
  return parts.length ? parts.join(' · ') : 'Server defaults';
}

/**
 * Jobs, newest first; those of the selected notebook are highlighted.
 */
export function JobsList(props: {
  items: ReadonlyArray<IJob>;
  selectedNotebook: string | null;
}): JSX.Element | null {
  if (props.items.length === 0) {
    return null;
  }
  return (
    <ul className="labrig-List" aria-label="Jobs">
      {props.items.map(job => {
        const selected = job.notebook_path === props.selectedNotebook;
        return (
          <li
            key={job.id}
            className={`labrig-Item${selected ? ' labrig-mod-highlight' : ''}`}
            data-testid="labrig-job"
          >
            <div className="labrig-Item-primary">
              <span className="labrig-Item-name" title={job.name}>
                {job.name}
              </span>
              <span
                className={`labrig-JobStatus labrig-JobStatus-${job.status.toLowerCase()}`}
                title={job.reason ?? undefined}
              >
                {job.status.toLowerCase()}
              </span>
            </div>
            <div className="labrig-Item-secondary">
              <span title={job.notebook_path}>{basename(job.notebook_path)}</span>
              {job.created_at && (
                <span title={formatAbsolute(job.created_at)}>
                  {' '}
                  · {formatRelative(job.created_at)}
                </span>
              )}
            </div>
          </li>
        );
      })}
    </ul>
  );
}

/**
 * Registered models.
 */
export function ModelsList(props: { items: ReadonlyArray<IModel> }): JSX.Element | null {
  if (props.items.length === 0) {
    return null;
  }
  return (
    <ul className="labrig-List" aria-label="Models">
      {props.items.map(model => (
        <li key={model.name} className="labrig-Item" data-testid="labrig-model">
          <div className="labrig-Item-primary">
            <span className="labrig-Item-name" title={model.name}>
              {model.name}
            </span>
            <span className="labrig-Tag">
              {model.latest_version === null ? 'no versions' : `v${model.latest_version}`}
            </span>
          </div>
          {model.description && (
            <div className="labrig-Item-secondary" title={model.description}>
              {model.description}
            </div>
          )}
        </li>
      ))}
    </ul>
  );
}
