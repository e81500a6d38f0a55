/**
 * Who uses a dataset now: the running kernels that see its host mount and the active jobs that
 * mount it, behind a disclosure button (read when opened, and again every few seconds).
 */
import * as React from 'react';

import { getDatasetUsers, IDatasetUsers, short } from '../links/api';
import { EntityLink } from '../links/links';
import { basename, plural } from '../panel/format';
import { toLabrigError } from '../request';

/** How often the users are read again while shown, in ms. */
export const USERS_INTERVAL_MS = 5000;

export function DatasetUsers(props: { name: string; interval?: number }): JSX.Element {
  const [open, setOpen] = React.useState(false);
  const [users, setUsers] = React.useState<IDatasetUsers | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const bodyId = React.useId();

  React.useEffect(() => {
    if (!open) {
      return;
    }
    let live = true;
    const read = () =>
      getDatasetUsers(props.name).then(
        value => live && (setUsers(value), setError(null)),
        reason => live && setError(toLabrigError(reason).message)
      );
    void read();
    const timer = setInterval(() => void read(), props.interval ?? USERS_INTERVAL_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [open, props.name, props.interval]);

  const count = users ? users.kernels.length + users.jobs.length : null;
  return (
    <div className="labrig-DatasetUsers">
      <button
        type="button"
        className="labrig-LinkButton"
        aria-expanded={open}
        aria-controls={bodyId}
        aria-label={`Who uses ${props.name}`}
        onClick={() => setOpen(!open)}
      >
        {open ? '▾' : '▸'} Used by{count !== null && open ? ` (${count})` : ''}
      </button>
      <div id={bodyId} hidden={!open} data-testid="labrig-dataset-users">
        {error && (
          <div className="labrig-Error" role="alert">
            {error}
          </div>
        )}
        {users && count === 0 && (
          <p className="labrig-Muted">
            No running kernel or job uses it
            {users.mount_path ? '' : ' (mount it to give every kernel a path to it)'}
          </p>
        )}
        {users && count !== null && count > 0 && (
          <ul className="labrig-InlineList">
            {users.jobs.map(job => (
              <li key={job.id} data-testid="labrig-dataset-user-job">
                <EntityLink label={`Open job ${job.name}`} open={l => l.openJob(job.id)}>
                  job {job.name} ({short(job.id)})
                </EntityLink>{' '}
                <span className="labrig-Muted">{job.status.toLowerCase()}</span>
              </li>
            ))}
            {users.kernels.map(kernel => (
              <li key={kernel.kernel_id} data-testid="labrig-dataset-user-kernel">
                {kernel.notebook_path ? (
                  <EntityLink
                    label={`Open notebook ${kernel.notebook_path}`}
                    open={l => l.openNotebook(kernel.notebook_path as string)}
                  >
                    kernel of {basename(kernel.notebook_path)}
                  </EntityLink>
                ) : (
                  `kernel ${short(kernel.kernel_id)}`
                )}{' '}
                <span className="labrig-Muted">{kernel.execution_state ?? ''}</span>
              </li>
            ))}
          </ul>
        )}
        {users && users.kernels.length > 0 && (
          <p className="labrig-Muted">
            {plural(users.kernels.length, 'running kernel')} see
            {users.kernels.length === 1 ? 's' : ''} it at <code>{users.mount_path}</code>
          </p>
        )}
      </div>
    </div>
  );
}
