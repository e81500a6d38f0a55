import * as React from 'react';

import { IJob } from '../api';
import { basename, formatAbsolute, formatRelative } from './format';

/**
 * Jobs, newest first; those of the selected notebook are highlighted.
 */
export function JobsList(props: {
  items: ReadonlyArray<IJob>;
  selectedNotebook: string | null;
  onOpen?: (id: string) => void;
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
            tabIndex={props.onOpen ? 0 : undefined}
            onClick={() => props.onOpen?.(job.id)}
            onKeyDown={event => {
              if (event.key === 'Enter') {
                props.onOpen?.(job.id);
              }
            }}
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
