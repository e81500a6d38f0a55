/**
 * One model version: metrics, parameters, tags, files, its lineage (a graph whose nodes are
 * links to the datasets, the notebook snapshot and the job), aliases and the snippet that loads
 * it.
 */
import * as React from 'react';

import { IModel } from '../api';
import { EntityLink, HiddenEntity } from '../links/links';
import { LineageView } from '../links/LineageView';
import { short } from '../links/api';
import { formatAbsolute, formatBytes, formatNumber, formatRelative, plural } from '../panel/format';
import { FieldError, useFormErrors } from '../panel/forms';
import { ByOwner, TagList } from '../panel/owner';
import { toLabrigError } from '../request';
import { deleteAlias, deleteVersion, fileUrl, getVersion, loadSnippet, setAlias } from './api';
import { Confirm, useLoad } from './common';

export function VersionDetail(props: {
  name: string;
  version: number;
  /** The model, for its creator and tags (the list's entry; none when not loaded). */
  model?: IModel | null;
  onBack: () => void;
  onDeleted: () => void;
  onChanged?: () => void;
}): JSX.Element {
  const {
    value: v,
    error,
    reload
  } = useLoad(() => getVersion(props.name, props.version), [props.name, props.version]);
  const [alias, setAliasName] = React.useState('production');
  const [actionError, setActionError] = React.useState<string | null>(null);
  const aliasError = useFormErrors(['alias', 'version']);
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
      {props.model?.owner && (
        <p className="labrig-Item-secondary">
          Model created <ByOwner owner={props.model.owner} role="Model created by" />
        </p>
      )}
      <TagList
        tags={props.model?.tags}
        label={`Tags of the model ${props.name}`}
        testId="labrig-model-tags"
      />
      {v && (
        <>
          <p className="labrig-Item-secondary">
            {v.user && (
              <>
                registered{' '}
                <ByOwner owner={v.user} role="Registered by" testId="labrig-version-user" /> ·{' '}
              </>
            )}
            <span title={formatAbsolute(v.created_at)}>{formatRelative(v.created_at)}</span> ·{' '}
            {formatBytes(v.size)} in {v.file_count} file{v.file_count === 1 ? '' : 's'}
          </p>
          {v.note && <p className="labrig-Note">{v.note}</p>}
          <KeyValues title="Metrics" values={v.metrics} />
          <KeyValues title="Parameters" values={v.params} />
          <KeyValues title="Tags" values={v.tags ?? {}} plain />
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
          <LineageView model={props.name} version={props.version} />
          <dl className="labrig-Lineage" data-testid="labrig-lineage">
            {lineage.job_id && (
              <>
                <dt>Job</dt>
                <dd>
                  <EntityLink
                    open={l => l.openJob(lineage.job_id as string)}
                    label={`Open job ${lineage.job_id}`}
                  >
                    {lineage.job_id}
                  </EntityLink>
                  {lineage.rank !== undefined && ` (rank ${lineage.rank})`}
                </dd>
              </>
            )}
            {lineage.snapshot_sha256 && (
              <>
                <dt>Snapshot</dt>
                <dd>
                  <EntityLink
                    label={`Open the notebook snapshot ${short(lineage.snapshot_sha256)} read-only`}
                    testId="labrig-open-snapshot"
                    open={l =>
                      l.openSnapshot(lineage.snapshot_sha256 as string, {
                        notebookPath: lineage.notebook_path,
                        parameters: lineage.parameters,
                        jobId: lineage.job_id
                      })
                    }
                  >
                    {short(lineage.snapshot_sha256, 12)} (read-only)
                  </EntityLink>
                </dd>
              </>
            )}
            {lineage.notebook_path && (
              <>
                <dt>Notebook</dt>
                <dd>
                  <EntityLink
                    label={`Open notebook ${lineage.notebook_path} as it is now`}
                    open={l => l.openNotebook(lineage.notebook_path as string)}
                  >
                    {lineage.notebook_path}
                  </EntityLink>
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
                  <EntityLink open={l => l.openDataset(name)} label={`Open dataset ${name}`}>
                    {name}
                  </EntityLink>{' '}
                  @ {String(version).slice(0, 12)}
                </dd>
              </React.Fragment>
            ))}
            {lineage.private_datasets ? (
              <>
                <dt>Dataset</dt>
                <dd>
                  <HiddenEntity>
                    {plural(lineage.private_datasets, 'private dataset')} of another user
                  </HiddenEntity>
                </dd>
              </>
            ) : null}
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
            aria-label="Point an alias at this version"
            onSubmit={event => {
              event.preventDefault();
              void aliasError.submit(async () => {
                await setAlias(props.name, alias.trim(), props.version);
                reload();
                props.onChanged?.();
              });
            }}
          >
            <label htmlFor="labrig-alias-name">Alias</label>{' '}
            <input
              id="labrig-alias-name"
              value={alias}
              onChange={event => setAliasName(event.target.value)}
              aria-label="Alias name"
              {...aliasError.inputProps('alias')}
            />{' '}
            <button type="submit" disabled={aliasError.busy}>
              Point here
            </button>
            <FieldError form={aliasError} field="alias" />
          </form>
          <h4>Load in a notebook</h4>
          <pre className="labrig-Snippet" data-testid="labrig-load-snippet">
            {snippet}
          </pre>
          <button
            type="button"
            className="labrig-LinkButton"
            aria-label="Copy the load snippet"
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
  /** Show string values as they are (tags), not quoted as JSON (parameters). */
  plain?: boolean;
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
            <dd>
              {typeof value === 'number'
                ? formatNumber(value)
                : props.plain && typeof value === 'string'
                  ? value
                  : JSON.stringify(value)}
            </dd>
          </React.Fragment>
        ))}
      </dl>
    </>
  );
}
