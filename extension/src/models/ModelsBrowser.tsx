/**
 * The Models section: models with their latest version and aliases, a model's versions
 * (sortable metrics table and a plot), and a version's files, lineage and aliases.
 */
import * as React from 'react';

import { IModel } from '../api';
import { formatAbsolute, formatRelative } from '../panel/format';
import { toLabrigError } from '../request';
import { deleteModel, IModelVersion, listVersions } from './api';
import { Confirm, useLoad } from './common';
import { formatNumber, MetricPlot } from './MetricPlot';
import { VersionDetail } from './VersionDetail';

export interface IModelsBrowserProps {
  items: ReadonlyArray<IModel>;
  /** Called after a change (alias moved, version deleted) so the list refreshes. */
  onChanged?: () => void;
  /** Open a file of the workspace (a notebook from the lineage). */
  onOpenPath?: (path: string) => void;
  /** Open the live view of the job that produced a version. */
  onOpenJob?: (id: string) => void;
}

export function ModelsBrowser(props: IModelsBrowserProps): JSX.Element | null {
  const [selected, setSelected] = React.useState<string | null>(null);
  const [version, setVersion] = React.useState<number | null>(null);
  if (selected !== null && version !== null) {
    return (
      <VersionDetail
        name={selected}
        version={version}
        onBack={() => setVersion(null)}
        onChanged={props.onChanged}
        onOpenPath={props.onOpenPath}
        onOpenJob={props.onOpenJob}
        onDeleted={() => {
          setVersion(null);
          props.onChanged?.();
        }}
      />
    );
  }
  if (selected !== null) {
    const model = props.items.find(item => item.name === selected);
    return (
      <ModelDetail
        name={selected}
        model={model ?? null}
        onBack={() => setSelected(null)}
        onSelect={setVersion}
        onDeleted={() => {
          setSelected(null);
          props.onChanged?.();
        }}
      />
    );
  }
  if (props.items.length === 0) {
    return null;
  }
  return (
    <ul className="labrig-List" aria-label="Models">
      {props.items.map(model => (
        <li key={model.name} className="labrig-Item" data-testid="labrig-model">
          <div className="labrig-Item-primary">
            <button
              type="button"
              className="labrig-LinkButton labrig-Item-name"
              title={`Show the versions of ${model.name}`}
              onClick={() => setSelected(model.name)}
            >
              {model.name}
            </button>
            <span className="labrig-Tag">
              {model.latest_version === null ? 'no versions' : `v${model.latest_version}`}
            </span>
            {Object.entries(model.aliases ?? {}).map(([alias, v]) => (
              <span key={alias} className="labrig-Tag labrig-Alias" title={`${alias} → v${v}`}>
                {alias}: v{v}
              </span>
            ))}
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

type SortKey = 'version' | 'created_at' | string;

/**
 * Versions of one model: a table with one column per metric (click a header to sort) and
 * a plot of the chosen metric.
 */
export function ModelDetail(props: {
  name: string;
  model: IModel | null;
  onBack: () => void;
  onSelect: (version: number) => void;
  onDeleted: () => void;
}): JSX.Element {
  const { value: page, error } = useLoad(
    () => listVersions(props.name, { limit: 200 }),
    [props.name]
  );
  const [sort, setSort] = React.useState<{ key: SortKey; desc: boolean }>({
    key: 'version',
    desc: true
  });
  const [plotted, setPlotted] = React.useState<string | null>(null);
  const [confirming, setConfirming] = React.useState(false);
  const [actionError, setActionError] = React.useState<string | null>(null);
  const versions = page?.items ?? [];
  const metricNames = Array.from(new Set(versions.flatMap(v => Object.keys(v.metrics)))).sort();
  const metric = plotted ?? metricNames[0] ?? null;

  const sorted = [...versions].sort((a, b) => {
    const value = (v: IModelVersion): number | string | undefined =>
      sort.key === 'version'
        ? v.version
        : sort.key === 'created_at'
          ? v.created_at
          : v.metrics[sort.key];
    const [x, y] = [value(a), value(b)];
    if (x === undefined || y === undefined) {
      return x === undefined ? (y === undefined ? 0 : 1) : -1; // missing values last
    }
    const order = x < y ? -1 : x > y ? 1 : 0;
    return sort.desc ? -order : order;
  });

  const header = (key: SortKey, label: string) => (
    <th
      scope="col"
      aria-sort={sort.key === key ? (sort.desc ? 'descending' : 'ascending') : 'none'}
    >
      <button
        type="button"
        className="labrig-LinkButton"
        onClick={() => setSort({ key, desc: sort.key === key ? !sort.desc : true })}
      >
        {label}
        {sort.key === key ? (sort.desc ? ' ▼' : ' ▲') : ''}
      </button>
    </th>
  );

  const remove = async () => {
    try {
      await deleteModel(props.name);
      props.onDeleted();
    } catch (reason) {
      setActionError(toLabrigError(reason).message);
      setConfirming(false);
    }
  };

  return (
    <div className="labrig-ModelDetail" data-testid="labrig-model-detail">
      <div className="labrig-DetailHeader">
        <button type="button" className="labrig-LinkButton" onClick={props.onBack}>
          ← Models
        </button>
        <strong>{props.name}</strong>
      </div>
      {props.model?.description && (
        <p className="labrig-Item-secondary">{props.model.description}</p>
      )}
      {(error || actionError) && (
        <div className="labrig-Error" role="alert">
          {error ?? actionError}
        </div>
      )}
      {page && versions.length === 0 && <p className="labrig-empty">No versions yet.</p>}
      {versions.length > 0 && (
        <>
          <table className="labrig-VersionsTable" aria-label={`Versions of ${props.name}`}>
            <thead>
              <tr>
                {header('version', 'Version')}
                {metricNames.map(name => (
                  <React.Fragment key={name}>{header(name, name)}</React.Fragment>
                ))}
                <th scope="col">Aliases</th>
                {header('created_at', 'Registered')}
              </tr>
            </thead>
            <tbody>
              {sorted.map(v => (
                <tr key={v.version} data-testid="labrig-version-row">
                  <td>
                    <button
                      type="button"
                      className="labrig-LinkButton"
                      onClick={() => props.onSelect(v.version)}
                    >
                      v{v.version}
                    </button>
                  </td>
                  {metricNames.map(name => (
                    <td key={name} className="labrig-Number">
                      {name in v.metrics ? formatNumber(v.metrics[name]) : '–'}
                    </td>
                  ))}
                  <td>{v.aliases.join(', ')}</td>
                  <td title={formatAbsolute(v.created_at)}>{formatRelative(v.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {metric && (
            <div className="labrig-PlotBox">
              <label>
                Plot{' '}
                <select
                  value={metric}
                  onChange={event => setPlotted(event.target.value)}
                  aria-label="Metric to plot"
                >
                  {metricNames.map(name => (
                    <option key={name} value={name}>
                      {name}
                    </option>
                  ))}
                </select>
              </label>
              <MetricPlot versions={versions} metric={metric} />
            </div>
          )}
        </>
      )}
      <Confirm
        label="Delete model"
        question={`Delete ${props.name} and all its versions?`}
        confirming={confirming}
        setConfirming={setConfirming}
        onConfirm={remove}
      />
    </div>
  );
}
