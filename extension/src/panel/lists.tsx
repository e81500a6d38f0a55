import * as React from 'react';

import { IJob } from '../api';
import { basename, formatAbsolute, formatRelative } from './format';
import { ByOwner } from './owner';
import { VirtualList } from './VirtualList';

/** Pixel height of one row of the jobs list (two lines). */
export const JOB_ROW_HEIGHT = 44;
/** Pixel height of the jobs list's scroll container. */
export const JOBS_LIST_HEIGHT = 352;

/**
 * Jobs, newest first; those of the selected notebook are highlighted. Only the rows in view are
 * rendered; the next page is fetched as the user scrolls near the end.
 */
export function JobsList(props: {
  items: ReadonlyArray<IJob>;
  selectedNotebook: string | null;
  onOpen?: (id: string) => void;
  hasMore?: boolean;
  loading?: boolean;
  onLoadMore?: () => void;
}): JSX.Element | null {
  if (props.items.length === 0) {
    return null;
  }
  const { onOpen } = props;
  return (
    <VirtualList
      items={props.items}
      itemKey={job => job.id}
      rowHeight={JOB_ROW_HEIGHT}
      height={JOBS_LIST_HEIGHT}
      hasMore={props.hasMore}
      loading={props.loading}
      onLoadMore={props.onLoadMore}
      ariaLabel="Jobs"
      testId="labrig-jobs-list"
      renderRow={(job, _index, row) => {
        const selected = job.notebook_path === props.selectedNotebook;
        const status = job.status.toLowerCase();
        return (
          <li
            {...row}
            className={`labrig-Item${selected ? ' labrig-mod-highlight' : ''}`}
            data-testid="labrig-job"
          >
            {/* One button per row: Enter and Space open the job, and its name says which. */}
            <button
              type="button"
              className="labrig-JobRow"
              disabled={!onOpen}
              aria-label={`Open job ${job.name}, ${status}, ${basename(job.notebook_path)}${
                job.created_at ? `, ${formatRelative(job.created_at)}` : ''
              }${job.owner ? `, by ${job.owner}` : ''}`}
              onClick={() => onOpen?.(job.id)}
            >
              <span className="labrig-Item-primary">
                <span className="labrig-Item-name" title={job.name}>
                  {job.name}
                </span>
                <span
                  className={`labrig-JobStatus labrig-JobStatus-${status}`}
                  title={job.reason ?? undefined}
                >
                  {status}
                </span>
              </span>
              <span className="labrig-Item-secondary">
                <span title={job.notebook_path}>{basename(job.notebook_path)}</span>
                {job.created_at && (
                  <span title={formatAbsolute(job.created_at)}>
                    {' '}
                    · {formatRelative(job.created_at)}
                  </span>
                )}
                {job.owner && ' · '}
                <ByOwner owner={job.owner} role="Submitted by" />
              </span>
            </button>
          </li>
        );
      }}
    />
  );
}
