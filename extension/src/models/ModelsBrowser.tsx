/**
 * The Models section: models with their latest version and aliases; a model's versions (sorted
 * and filtered by the server, paged, plotted, two of them compared); one version's detail.
 */
import * as React from 'react';

import { IModel } from '../api';
import { IModelsView } from '../model';
import { useLinks } from '../links/links';
import { formatAbsolute, formatNumber, formatRelative } from '../panel/format';
import { FieldError, FormError, useFormErrors } from '../panel/forms';
import { ByOwner, TagList } from '../panel/owner';
import { toLabrigError } from '../request';
import { deleteModel, IModelVersion, IVersionListOptions, listVersions } from './api';
import { Confirm } from './common';
import { MetricPlot } from './MetricPlot';
import { VersionDetail } from './VersionDetail';

export interface IModelsBrowserProps {
  items: ReadonlyArray<IModel>;
  /** What is shown; the browser keeps its own when omitted. */
  view?: IModelsView;
  onNavigate?: (view: IModelsView) => void;
  /** Called after a change (alias moved, version deleted) so the list refreshes. */
  onChanged?: () => void;
}

export function ModelsBrowser(props: IModelsBrowserProps): JSX.Element | null {
  const [local, setLocal] = React.useState<IModelsView>({ model: null, version: null });
  const view = props.view ?? local;
  const navigate = props.onNavigate ?? setLocal;
  const { model: selected, version } = view;
  if (selected !== null && version !== null) {
    return (
      <VersionDetail
        name={selected}
        version={version}
        model={props.items.find(item => item.name === selected) ?? null}
        onBack={() => navigate({ model: selected, version: null })}
        onChanged={props.onChanged}
        onDeleted={() => {
          navigate({ model: selected, version: null });
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
        onBack={() => navigate({ model: null, version: null })}
        onSelect={v => navigate({ model: selected, version: v })}
        onDeleted={() => {
          navigate({ model: null, version: null });
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
              onClick={() => navigate({ model: model.name, version: null })}
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
          {model.owner && (
            <div className="labrig-Item-secondary">
              <ByOwner owner={model.owner} role="Created by" />
            </div>
          )}
          <TagList tags={model.tags} label={`Tags of ${model.name}`} testId="labrig-model-tags" />
        </li>
      ))}
    </ul>
  );
}

/** How the versions are asked for: sorted and filtered by the server. */
export interface IVersionQuery {
  sort: string;
  desc: boolean;
  alias: string;
  tag: string;
  metric: string;
}

export const DEFAULT_QUERY: IVersionQuery = {
  sort: 'version',
  desc: true,
  alias: '',
  tag: '',
  metric: ''
};

/** Versions per page. */
export const VERSIONS_PAGE = 50;

/**
 * The list options of a query: several filters of a kind are comma-separated in the form.
 */
export function listOptions(query: IVersionQuery): IVersionListOptions {
  const split = (text: string) =>
    text
      .split(',')
      .map(part => part.trim())
      .filter(Boolean);
  return {
    limit: VERSIONS_PAGE,
    sort: query.sort,
    order: query.desc ? 'desc' : 'asc',
    alias: query.alias.trim() || undefined,
    tags: split(query.tag),
    metrics: split(query.metric)
  };
}

/**
 * Versions of one model: a table with one column per metric (a header sorts by it, on the
 * server), filters, paging, a plot of a metric, and a pick of two versions to compare.
 */
export function ModelDetail(props: {
  name: string;
  model: IModel | null;
  onBack: () => void;
  onSelect: (version: number) => void;
  onDeleted: () => void;
}): JSX.Element {
  const links = useLinks();
  const [query, setQuery] = React.useState<IVersionQuery>(DEFAULT_QUERY);
  const [typed, setTyped] = React.useState({ alias: '', tag: '', metric: '' });
  const [versions, setVersions] = React.useState<IModelVersion[] | null>(null);
  const [next, setNext] = React.useState<string | null>(null);
  const [loadingMore, setLoadingMore] = React.useState(false);
  const [metricNames, setMetricNames] = React.useState<string[]>([]);
  const [plotted, setPlotted] = React.useState<string | null>(null);
  const [picked, setPicked] = React.useState<number[]>([]);
  const [notice, setNotice] = React.useState<string | null>(null);
  const [confirming, setConfirming] = React.useState(false);
  const [actionError, setActionError] = React.useState<string | null>(null);
  const filters = useFormErrors(['alias', 'tag', 'metric']);
  const { setError } = filters;
  const [showFilters, setShowFilters] = React.useState(false);

  const remember = (items: ReadonlyArray<IModelVersion>) =>
    setMetricNames(old => {
      const names = new Set([...old, ...items.flatMap(v => Object.keys(v.metrics))]);
      return names.size === old.length ? old : [...names].sort();
    });

  React.useEffect(() => {
    let live = true;
    listVersions(props.name, listOptions(query)).then(
      page => {
        if (live) {
          setVersions(page.items);
          setNext(page.next_page_token);
          remember(page.items);
          setError(null);
        }
      },
      reason => live && setError(toLabrigError(reason))
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [props.name, query]);

  const loadMore = async (): Promise<void> => {
    if (!next) {
      return;
    }
    setLoadingMore(true);
    await filters.submit(async () => {
      const page = await listVersions(props.name, { ...listOptions(query), pageToken: next });
      setVersions(old => [...(old ?? []), ...page.items]);
      setNext(page.next_page_token);
      remember(page.items);
    });
    setLoadingMore(false);
  };

  const metric = plotted ?? metricNames[0] ?? null;
  const items = versions ?? [];

  const header = (key: string, label: string) => {
    const active = query.sort === key;
    return (
      <th scope="col" aria-sort={active ? (query.desc ? 'descending' : 'ascending') : 'none'}>
        <button
          type="button"
          className="labrig-LinkButton"
          aria-label={`Sort by ${label}${active ? (query.desc ? ', descending' : ', ascending') : ''}`}
          onClick={() => setQuery({ ...query, sort: key, desc: active ? !query.desc : true })}
        >
          {label}
          {active ? (query.desc ? ' ▼' : ' ▲') : ''}
        </button>
      </th>
    );
  };

  const pick = (version: number, on: boolean) =>
    setPicked(old =>
      on ? [...old.filter(v => v !== version), version].slice(-2) : old.filter(v => v !== version)
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

  const filtered = query.alias || query.tag || query.metric;
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
      {props.model?.owner && (
        <p className="labrig-Item-secondary">
          Created <ByOwner owner={props.model.owner} role="Created by" />
        </p>
      )}
      <TagList
        tags={props.model?.tags}
        label={`Tags of ${props.name}`}
        testId="labrig-model-tags"
      />
      <button
        type="button"
        className="labrig-LinkButton"
        aria-expanded={showFilters || !!filters.error}
        aria-controls="labrig-version-filters"
        onClick={() => setShowFilters(!showFilters)}
      >
        {filtered ? 'Filters (on)' : 'Filter versions'}
      </button>
      <form
        id="labrig-version-filters"
        hidden={!(showFilters || filters.error)}
        className="labrig-Form labrig-VersionFilters"
        aria-label={`Filter the versions of ${props.name}`}
        data-testid="labrig-version-filters"
        onSubmit={event => {
          event.preventDefault();
          setPicked([]);
          setQuery({ ...query, ...typed });
        }}
      >
        <FilterInput
          form={filters}
          field="alias"
          label="Alias"
          placeholder="production"
          value={typed.alias}
          onChange={alias => setTyped({ ...typed, alias })}
        />
        <FilterInput
          form={filters}
          field="tag"
          label="Tags"
          placeholder="team=vision"
          value={typed.tag}
          onChange={tag => setTyped({ ...typed, tag })}
        />
        <FilterInput
          form={filters}
          field="metric"
          label="Metrics"
          placeholder="acc>=0.9"
          value={typed.metric}
          onChange={metric => setTyped({ ...typed, metric })}
        />
        <div className="labrig-Form-actions">
          <button type="submit" className="jp-mod-styled labrig-Button">
            Filter
          </button>
          {filtered && (
            <button
              type="button"
              className="jp-mod-styled labrig-Button"
              onClick={() => {
                setTyped({ alias: '', tag: '', metric: '' });
                setQuery({ ...query, alias: '', tag: '', metric: '' });
              }}
            >
              Clear filters
            </button>
          )}
        </div>
      </form>
      <FormError form={filters} />
      {actionError && (
        <div className="labrig-Error" role="alert">
          {actionError}
        </div>
      )}
      {versions && items.length === 0 && (
        <p className="labrig-empty">
          {filtered ? 'No version matches these filters.' : 'No versions yet.'}
        </p>
      )}
      {query.sort.startsWith('metric:') && items.length > 0 && (
        <p className="labrig-Muted">Only versions with {query.sort.slice(7)} are listed.</p>
      )}
      {items.length > 0 && (
        <>
          <table className="labrig-VersionsTable" aria-label={`Versions of ${props.name}`}>
            <thead>
              <tr>
                <th scope="col">
                  <span className="labrig-VisuallyHidden">Compare</span>
                </th>
                {header('version', 'Version')}
                {metricNames.map(name => (
                  <React.Fragment key={name}>{header(`metric:${name}`, name)}</React.Fragment>
                ))}
                <th scope="col">Aliases</th>
                {header('created_at', 'Registered')}
                <th scope="col">By</th>
              </tr>
            </thead>
            <tbody>
              {items.map(v => (
                <tr key={v.version} data-testid="labrig-version-row">
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`Compare v${v.version}`}
                      checked={picked.includes(v.version)}
                      onChange={event => pick(v.version, event.target.checked)}
                    />
                  </td>
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
                  <td data-testid="labrig-version-user">{v.user}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {next && (
            <button
              type="button"
              className="labrig-LinkButton labrig-ShowMore"
              disabled={loadingMore}
              onClick={() => void loadMore()}
            >
              {loadingMore ? 'Loading…' : 'Show more versions'}
            </button>
          )}
          <div className="labrig-Compare-pick">
            <button
              type="button"
              className="jp-mod-styled labrig-Button"
              disabled={picked.length !== 2}
              data-testid="labrig-compare-versions"
              onClick={() =>
                void links
                  .compareVersions(props.name, picked[0], picked[1])
                  .then(outcome => setNotice(outcome))
              }
            >
              {picked.length === 2
                ? `Compare v${picked[0]} and v${picked[1]}`
                : 'Compare two versions'}
            </button>
            {picked.length !== 2 && (
              <span className="labrig-Muted"> pick two in the first column</span>
            )}
            {notice && (
              <span className="labrig-LinkGone" role="status">
                {notice}
              </span>
            )}
          </div>
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
              <MetricPlot versions={items} metric={metric} />
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

function FilterInput(props: {
  form: ReturnType<typeof useFormErrors>;
  field: string;
  label: string;
  placeholder: string;
  value: string;
  onChange: (value: string) => void;
}): JSX.Element {
  const id = `${props.form.errorId(props.field)}-input`;
  return (
    <div className="labrig-Field">
      <label htmlFor={id} className="labrig-Field-label">
        {props.label}
      </label>
      <input
        id={id}
        className="jp-mod-styled labrig-Input"
        name={props.field}
        placeholder={props.placeholder}
        value={props.value}
        autoComplete="off"
        spellCheck={false}
        onChange={event => props.onChange(event.target.value)}
        {...props.form.inputProps(props.field)}
      />
      <FieldError form={props.form} field={props.field} />
    </div>
  );
}
