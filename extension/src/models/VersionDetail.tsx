/**
 * One model version: metrics, files, lineage (links to its job and notebook), aliases and the
 * snippet that loads it.
 */
import * as React from 'react';

import { formatAbsolute, formatBytes, formatRelative } from '../panel/format';
import { toLabrigError } from '../request';
import { deleteAlias, deleteVersion, fileUrl, getVersion, loadSnippet, setAlias } from './api';
import { Confirm, useLoad } from './common';
import { formatNumber } from './MetricPlot';

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
