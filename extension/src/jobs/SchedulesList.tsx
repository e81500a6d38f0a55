/**
 * The job schedules in the Jobs section: cron, notebook, next and last run, and the actions
 * pause / resume, run now and delete (after a confirmation).
 */
import * as React from 'react';

import { ActionButton } from '../panel/ActionButton';
import { basename, formatAbsolute, formatRelative } from '../panel/format';
import { useAction } from '../panel/hooks';
import { ByOwner } from '../panel/owner';
import { confirmDialog } from '../resources/confirm';
import { LabrigAPIError } from '../request';
import {
  deleteSchedule,
  IJobDetail,
  ISchedule,
  pauseSchedule,
  resumeSchedule,
  runScheduleNow
} from './api';

export interface ISchedulesListProps {
  items: ReadonlyArray<ISchedule>;
  loaded: boolean;
  /** The last listing's error. */
  error: LabrigAPIError | null;
  /** Whether there are more schedules than listed. */
  hasMore: boolean;
  /** Read the schedules again (after an action). */
  onChanged: () => void;
  /** A job was started with "Run now". */
  onJobStarted?: (job: IJobDetail) => void;
  onOpenJob?: (id: string) => void;
  /** Asks before deleting; JupyterLab's dialog by default. */
  confirm?: (title: string, body: string, accept: string) => Promise<boolean>;
}

export function SchedulesList(props: ISchedulesListProps): JSX.Element {
  const { items, loaded, error } = props;
  return (
    <div className="labrig-Schedules" data-testid="labrig-schedules">
      <h4 className="labrig-Subheading">Schedules</h4>
      {error && (
        <div className="labrig-Error" role="alert">
          {error.message}
        </div>
      )}
      {loaded && !error && items.length === 0 && (
        <p className="labrig-empty" data-testid="labrig-schedules-empty">
          No schedules — choose “On a schedule” in the Run-as-job dialog
        </p>
      )}
      {items.length > 0 && (
        <ul className="labrig-List" aria-label="Schedules">
          {items.map(item => (
            <ScheduleRow key={item.id} item={item} {...props} />
          ))}
        </ul>
      )}
      {props.hasMore && (
        <p className="labrig-Muted">
          The {items.length} newest schedules; <code>labrig jobs schedules ls</code> lists all.
        </p>
      )}
    </div>
  );
}

function ScheduleRow(props: { item: ISchedule } & ISchedulesListProps): JSX.Element {
  const { item, onChanged } = props;
  const { busy, error, act } = useAction();
  const [notice, setNotice] = React.useState<string | null>(null);

  const toggle = () =>
    void act(async () => {
      setNotice(null);
      await (item.paused ? resumeSchedule(item.id) : pauseSchedule(item.id));
      onChanged();
    });

  const runNow = () =>
    void act(async () => {
      setNotice(null);
      const job = await runScheduleNow(item.id);
      setNotice(`Started job ${job.name} (${job.id}).`);
      props.onJobStarted?.(job);
      onChanged();
    });

  const remove = () =>
    void act(async () => {
      const confirm = props.confirm ?? confirmDialog;
      const sure = await confirm(
        'Delete schedule',
        `Delete the schedule "${item.name}" (${item.cron})? Jobs it started are kept.`,
        'Delete'
      );
      if (sure) {
        await deleteSchedule(item.id);
        onChanged();
      }
    });

  return (
    <li className="labrig-Item labrig-Schedule" data-testid="labrig-schedule">
      <div className="labrig-Item-primary">
        <span className="labrig-Item-name" title={item.name}>
          {item.name}
        </span>
        <code className="labrig-Schedule-cron" title="cron expression">
          {item.cron}
        </code>
        {item.paused && <span className="labrig-Tag">paused</span>}
      </div>
      <div className="labrig-Item-secondary">
        <span title={item.notebook_path}>{basename(item.notebook_path)}</span>
        {' · '}
        <span data-testid="labrig-schedule-next" title={formatAbsolute(item.next_run_at)}>
          {item.paused || !item.next_run_at ? 'paused' : `next ${formatRelative(item.next_run_at)}`}
        </span>
        {item.owner && ' · '}
        <ByOwner owner={item.owner} role="Created by" />
      </div>
      <div className="labrig-Item-secondary" data-testid="labrig-schedule-last">
        {item.last_job_id ? (
          <>
            last run{' '}
            <span title={formatAbsolute(item.last_occurrence)}>
              {formatRelative(item.last_occurrence)}
            </span>{' '}
            <button
              type="button"
              className="labrig-LinkButton"
              onClick={() => props.onOpenJob?.(item.last_job_id as string)}
            >
              job {item.last_job_id}
            </button>
          </>
        ) : (
          'not run on schedule yet'
        )}
      </div>
      <div className="labrig-Actions">
        <ActionButton label={item.paused ? 'Resume' : 'Pause'} disabled={busy} onClick={toggle} />
        <ActionButton label="Run now" disabled={busy} onClick={runNow} />
        <ActionButton label="Delete" disabled={busy} onClick={remove} />
      </div>
      {notice && (
        <div className="labrig-Muted" role="status">
          {notice}
        </div>
      )}
      {error && (
        <div className="labrig-Error" role="alert">
          {error}
        </div>
      )}
    </li>
  );
}
