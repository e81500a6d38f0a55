/**
 * The Models section: models with their latest version and aliases, a model's versions
 * (sortable metrics table and a plot), and a version's files, lineage and aliases.
 */
import * as React from 'react';

import { IModel } from '../api';
import { formatAbsolute, formatBytes, formatRelative } from '../panel/format';
import { toLabrigError } from '../request';
import {
  deleteAlias,
  deleteModel,
  deleteVersion,
  fileUrl,
  getVersion,
  IModelVersion,
  listVersions,
  loadSnippet,
  setAlias
} from './api';
import { formatNumber, MetricPlot } from './MetricPlot';

export interface IModelsBrowserProps {
  items: ReadonlyArray<IModel>;
  /** Called after a change (alias moved, version deleted) so the list refreshes. */
  onChanged?: () => void;
  /** Open a file of the workspace (a notebook from the lineage). */
  onOpenPath?: (path: string) => void;
  /** Open the live view of the job that produced a version. */
  onOpenJob?: (id: string) => void;
}

/**
 * Run `load` whenever `deps` change; ignores answers that arrive after unmount.
 */
function useLoad<T>(
  load: () => Promise<T>,
  deps: React.DependencyList
): { value: T | null; error: string | null; reload: () => void } {
  const [value, setValue] = React.useState<T | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [tick, setTick] = React.useState(0);
  React.useEffect(() => {
    let live = true;
    load().then(
      result => {
        if (live) {
          setValue(result);
          setError(null);
        }
      },
      reason => {
        if (live) {
          setError(toLabrigError(reason).message);
        }
      }
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return { value, error, reload: () => setTick(t => t + 1) };
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

function Confirm(props: {
  label: string;
  question: string;
  confirming: boolean;
  setConfirming: (value: boolean) => void;
  onConfirm: () => void;
}): JSX.Element {
  if (!props.confirming) {
    return (
      <button
        type="button"
        className="labrig-LinkButton labrig-Danger"
        onClick={() => props.setConfirming(true)}
      >
        {props.label}
      </button>
    );
  }
  return (
    <div className="labrig-Confirm" role="group" aria-label={props.label}>
      <span>{props.question}</span>{' '}
      <button type="button" className="labrig-Danger" onClick={props.onConfirm}>
        Delete
      </button>{' '}
      <button type="button" onClick={() => props.setConfirming(false)}>
        Cancel
      </button>
    </div>
  );
}

/**
 * One version: metrics, files (download), lineage, aliases (move, remove), load snippet.
 */
export function VersionDetail(props: {
  name: string;
  version: number;
  onBack: () => void;
  onDeleted: () => void;
  onChanged?: () => void;
  onOpenPath?: (path: string) => void;
  onOpenJob?: (id: string) => void;
}): JSX.Element {
  const {
    value: v,
    error,
    reload
  } = useLoad(() => getVersion(props.name, props.version), [props.name, props.version]);
  const [alias, setAliasName] = React.useState('production');
  const [actionError, setActionError] = React.useState<string | null>(null);
  const [confirming, setConfirming] = React.useState(false);
  const [copied, setCopied] = React.useState(false);

  const act = async (work: () => Promise<unknown>) => {
    setActionError(null);
    try {
      await work();
      reload();
      props.onChanged?.();
    } catch (reason) {
      setActionError(toLabrigError(reason).message);
    }
  };

  const snippet = loadSnippet(`${props.name}/${props.version}`);
  const lineage = v?.lineage ?? {};
  return (
    <div className="labrig-VersionDetail" data-testid="labrig-version-detail">
      <div className="labrig-DetailHeader">
        <button type="button" className="labrig-LinkButton" onClick={props.onBack}>
          ← {props.name}
        </button>
        <strong>
          {props.name} v{props.version}
        </strong>
      </div>
      {(error || actionError) && (
        <div className="labrig-Error" role="alert">
          {error ?? actionError}
        </div>
      )}
      {v && (
        <>
          <p className="labrig-Item-secondary">
            {v.user && <>by {v.user} · </>}
            <span title={formatAbsolute(v.created_at)}>{formatRelative(v.created_at)}</span> ·{' '}
            {formatBytes(v.size)} in {v.file_count} file{v.file_count === 1 ? '' : 's'}
          </p>
          {v.note && <p className="labrig-Note">{v.note}</p>}
          <KeyValues title="Metrics" values={v.metrics} />
          <KeyValues title="Parameters" values={v.params} />
          <h4>Files</h4>
          <ul className="labrig-Files">
            {(v.files ?? []).map(file => (
              <li key={file.path}>
                <a
                  href={fileUrl(props.name, props.version, file.path)}
                  download={file.path.split('/').pop()}
                  title={`sha256 ${file.sha256}`}
                >
                  {file.path}
                </a>{' '}
                <span className="labrig-Item-secondary">{formatBytes(file.size)}</span>
              </li>
            ))}
          </ul>
          <h4>Lineage</h4>
          <dl className="labrig-Lineage" data-testid="labrig-lineage">
            {lineage.job_id && (
              <>
                <dt>Job</dt>
                <dd>
                  {props.onOpenJob ? (
                    <button
                      type="button"
                      className="labrig-LinkButton"
                      onClick={() => props.onOpenJob!(lineage.job_id as string)}
                    >
                      {lineage.job_id}
                    </button>
                  ) : (
                    lineage.job_id
                  )}
                  {lineage.rank !== undefined && ` (rank ${lineage.rank})`}
                </dd>
              </>
            )}
            {lineage.notebook_path && (
              <>
                <dt>Notebook</dt>
                <dd>
                  {props.onOpenPath ? (
                    <button
                      type="button"
                      className="labrig-LinkButton"
                      onClick={() => props.onOpenPath!(lineage.notebook_path as string)}
                    >
                      {lineage.notebook_path}
                    </button>
                  ) : (
                    lineage.notebook_path
                  )}
                  {lineage.snapshot_sha256 && ` @ ${lineage.snapshot_sha256.slice(0, 12)}`}
                </dd>
              </>
            )}
            {lineage.source_path && (
              <>
                <dt>Source</dt>
                <dd>{lineage.source_path}</dd>
              </>
            )}
            {Object.entries(lineage.datasets ?? {}).map(([name, version]) => (
              <React.Fragment key={name}>
                <dt>Dataset</dt>
                <dd>
                  {name} @ {String(version).slice(0, 12)}
                </dd>
              </React.Fragment>
            ))}
            {lineage.git && (
              <>
                <dt>Git</dt>
                <dd>
                  {lineage.git.commit.slice(0, 12)}
                  {lineage.git.dirty ? ' (dirty)' : ''}
                </dd>
              </>
            )}
            {lineage.environment && (
              <>
                <dt>Environment</dt>
                <dd>
                  {Object.entries(lineage.environment)
                    .map(([name, version]) => `${name} ${version}`)
                    .join(', ')}
                </dd>
              </>
            )}
          </dl>
          <h4>Aliases</h4>
          <ul className="labrig-Aliases">
            {v.aliases.map(name => (
              <li key={name} data-testid="labrig-alias">
                <span className="labrig-Tag labrig-Alias">{name}</span>{' '}
                <button
                  type="button"
                  className="labrig-LinkButton"
                  aria-label={`Remove alias ${name}`}
                  onClick={() => void act(() => deleteAlias(props.name, name))}
                >
                  remove
                </button>
              </li>
            ))}
          </ul>
          <form
            className="labrig-AliasForm"
            onSubmit={event => {
              event.preventDefault();
              void act(() => setAlias(props.name, alias.trim(), props.version));
            }}
          >
            <label>
              Alias{' '}
              <input
                value={alias}
                onChange={event => setAliasName(event.target.value)}
                aria-label="Alias name"
              />
            </label>{' '}
            <button type="submit">Point here</button>
          </form>
          <h4>Load in a notebook</h4>
          <pre className="labrig-Snippet" data-testid="labrig-load-snippet">
            {snippet}
          </pre>
          <button
            type="button"
            className="labrig-LinkButton"
            onClick={() => {
              void navigator.clipboard?.writeText(snippet).then(() => setCopied(true));
            }}
          >
            {copied ? 'Copied' : 'Copy'}
          </button>
          <div>
            <Confirm
              label="Delete version"
              question={`Delete ${props.name} v${props.version}?`}
              confirming={confirming}
              setConfirming={setConfirming}
              onConfirm={() =>
                void (async () => {
                  try {
                    await deleteVersion(props.name, props.version);
                    props.onDeleted();
                  } catch (reason) {
                    setActionError(toLabrigError(reason).message);
                    setConfirming(false);
                  }
                })()
              }
            />
          </div>
        </>
      )}
    </div>
  );
}

function KeyValues(props: {
  title: string;
  values: { [key: string]: unknown };
}): JSX.Element | null {
  const entries = Object.entries(props.values);
  if (entries.length === 0) {
    return null;
  }
  return (
    <>
      <h4>{props.title}</h4>
      <dl className="labrig-KeyValues">
        {entries.map(([key, value]) => (
          <React.Fragment key={key}>
            <dt>{key}</dt>
            <dd>{typeof value === 'number' ? formatNumber(value) : JSON.stringify(value)}</dd>
          </React.Fragment>
        ))}
      </dl>
    </>
  );
}
