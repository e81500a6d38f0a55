import { refreshIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { LabrigModel } from '../model';

/**
 * The top line of the panel: version, backends and a refresh button.
 */
export function StatusLine(props: { model: LabrigModel }): JSX.Element {
  const { model } = props;
  const status = model.status;
  const error = model.statusError;

  let version = '';
  let summary: React.ReactNode;
  if (status) {
    const { backends, database } = status;
    const details = [
      `kernels: ${backends.kernels}`,
      `jobs: ${backends.jobs}`,
      `datasets: ${backends.datasets}`,
      `model store: ${backends.models}`,
      `database: ${database.dialect}` +
        (database.revision ? ` (revision ${database.revision})` : '')
    ].join('\n');
    version = `v${status.version}`;
    summary = (
      <div className="labrig-Status-summary" title={details}>
        {describeBackend(backends)} · {database.dialect}
      </div>
    );
  } else if (!error) {
    summary = <div className="labrig-Status-summary">Connecting…</div>;
  } else {
    summary = null;
  }

  return (
    <div className="labrig-Status" data-testid="labrig-status">
      <div className="labrig-Status-line">
        <h2 className="labrig-Status-title">labrig</h2>
        <span className="labrig-Status-version">{version}</span>
        <button
          type="button"
          className="jp-ToolbarButtonComponent labrig-IconButton labrig-Refresh"
          title="Refresh"
          aria-label="Refresh"
          onClick={() => void model.refresh()}
        >
          <refreshIcon.react tag="span" elementSize="normal" />
        </button>
      </div>
      {summary}
      {error && (
        <div className="labrig-Error" role="alert">
          {error.message}
        </div>
      )}
    </div>
  );
}

/**
 * "local backend" when kernels, jobs and datasets share one backend, else each one named.
 */
export function describeBackend(backends: {
  kernels: string;
  jobs: string;
  datasets: string;
}): string {
  const { kernels, jobs, datasets } = backends;
  if (kernels === jobs && jobs === datasets) {
    return `${kernels} backend`;
  }
  return `kernels: ${kernels}, jobs: ${jobs}, datasets: ${datasets}`;
}
