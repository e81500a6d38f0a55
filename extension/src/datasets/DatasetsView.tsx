/**
 * The Datasets section: add form, list with version / size / cached share, warm-up progress
 * (polled every 500 ms while it runs), cancel, refresh with a diff dialog, mount and unmount,
 * and how each mount is protected.
 */
import * as React from 'react';

import { ActionButton } from '../panel/ActionButton';
import { FieldError, FormError, useFormErrors } from '../panel/forms';
import { formatBytes, plural } from '../panel/format';
import { useAction } from '../panel/hooks';
import { ByOwner } from '../panel/owner';
import {
  IDatasetInfo,
  IRefreshPreview,
  IWarmUp,
  cancelWarmUp,
  confirmRefresh,
  createDataset,
  deleteDataset,
  getWarmUp,
  isRunning,
  mountDataset,
  refreshDataset,
  startWarmUp,
  unmountDataset
} from './api';
import { DatasetUsers } from './DatasetUsers';
import { MountProtectionNote } from './MountProtection';

/** Milliseconds between warm-up progress polls. */
export const POLL_MS = 500;

/**
 * Poll a dataset's warm-up while it runs; stops when it ends or the component unmounts.
 */
export function useWarmUp(
  name: string,
  initial: IWarmUp | null,
  onDone: () => void
): [IWarmUp | null, (warm: IWarmUp) => void] {
  const [warm, setWarm] = React.useState<IWarmUp | null>(initial);
  const running = isRunning(warm);
  const done = React.useRef(onDone);
  done.current = onDone;
  React.useEffect(() => {
    if (!running) {
      return;
    }
    let stopped = false;
    const timer = setInterval(() => {
      getWarmUp(name)
        .then(next => {
          if (stopped) {
            return;
          }
          setWarm(next);
          if (!isRunning(next)) {
            done.current();
          }
        })
        .catch(() => {
          /* the next tick tries again */
        });
    }, POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [name, running]);
  return [warm, setWarm];
}

/**
 * "12/40 files · 3.1 MiB of 10 MiB · 2.3 MiB/s · ETA 4 s"; "40 files (count not reported)"
 * where the cache reports bytes only (Fluid), rather than a wrong count.
 */
export function describeProgress(warm: IWarmUp): string {
  const parts = [
    warm.files_done === null
      ? `${warm.files_total ?? 0} files (count not reported)`
      : `${warm.files_done ?? 0}/${warm.files_total ?? 0} files`
  ];
  parts.push(
    warm.bytes_done === null
      ? `${formatBytes(warm.bytes_total ?? 0)} (size cached not reported)`
      : `${formatBytes(warm.bytes_done ?? 0)} of ${formatBytes(warm.bytes_total ?? 0)}`
  );
  if (warm.throughput_bytes_per_second) {
    parts.push(`${formatBytes(warm.throughput_bytes_per_second)}/s`);
  }
  if (warm.eta_seconds !== null && warm.eta_seconds !== undefined && isRunning(warm)) {
    parts.push(`ETA ${Math.ceil(warm.eta_seconds)} s`);
  }
  return parts.join(' · ');
}

function cachedPercent(item: IDatasetInfo): number | null {
  if (item.cached_bytes === null) {
    return null; // the cluster cache cannot say: the facts say so instead
  }
  if (!item.bytes) {
    return item.complete ? 100 : null;
  }
  return Math.round((100 * (item.cached_bytes ?? (item.complete ? item.bytes : 0))) / item.bytes);
}

/**
 * One dataset with its actions.
 */
export function DatasetRow(props: {
  item: IDatasetInfo;
  onChanged: () => void;
  /** A link asked to show this dataset: bring it into view and focus it. */
  revealed?: boolean;
  /** Changes each time a link asks again. */
  revealKey?: number;
}): JSX.Element {
  const { item, onChanged, revealed, revealKey } = props;
  const rowRef = React.useRef<HTMLLIElement>(null);
  React.useEffect(() => {
    const row = rowRef.current;
    if (revealed && row) {
      if (typeof row.scrollIntoView === 'function') {
        row.scrollIntoView({ block: 'nearest' });
      }
      row.focus();
    }
  }, [revealed, revealKey]);
  const { busy, error, act } = useAction();
  const [preview, setPreview] = React.useState<IRefreshPreview | null>(null);
  const [warm, setWarm] = useWarmUp(item.name, item.warmup ?? null, onChanged);
  const running = isRunning(warm);

  // Mount, unmount and remove change the catalog: the list is read again after each.
  const changeThenRefresh = (change: (name: string) => Promise<unknown>) => () =>
    void act(async () => {
      await change(item.name);
      onChanged();
    });

  const percent = cachedPercent(item);
  const facts: string[] = [];
  if (item.version) {
    facts.push(item.version.slice(0, 8));
  }
  if (item.files !== null && item.bytes !== null) {
    facts.push(`${plural(item.files, 'file')}, ${formatBytes(item.bytes)}`);
  }
  if (percent !== null) {
    facts.push(`${percent}% cached`);
  } else if (item.cached_bytes === null) {
    facts.push('cache size not reported');
  }

  return (
    <li
      ref={rowRef}
      tabIndex={-1}
      className={`labrig-Item labrig-Dataset${revealed ? ' labrig-mod-highlight' : ''}`}
      data-testid="labrig-dataset"
      aria-label={`Dataset ${item.name}`}
    >
      <div className="labrig-Item-primary">
        <span className="labrig-Item-name" title={item.name}>
          {item.name}
        </span>
        {item.read_only && <span className="labrig-Tag">read-only</span>}
        {item.private && (
          <span
            className="labrig-Tag"
            data-testid="labrig-dataset-private"
            title="Private: only its owner and administrators see, warm and mount it"
          >
            private
          </span>
        )}
        {item.mount_path && (
          <span className="labrig-Tag" data-testid="labrig-dataset-mounted" title={item.mount_path}>
            mounted
          </span>
        )}
      </div>
      <div className="labrig-Item-secondary">
        <span className="labrig-Item-source" title={item.source_url}>
          {item.source_url}
        </span>
        {facts.length > 0 && <span data-testid="labrig-dataset-facts"> · {facts.join(' · ')}</span>}
        {item.owner && ' · '}
        <ByOwner owner={item.owner} role="Added by" />
      </div>
      {item.mount_path && (
        <div className="labrig-Item-secondary" data-testid="labrig-dataset-path">
          <code>{item.mount_path}</code>
        </div>
      )}
      {item.mount_path && <MountProtectionNote protection={item.mount_protection} />}
      {warm && warm.state !== 'idle' && (
        <div className="labrig-WarmUp" data-testid="labrig-warmup">
          {warm.percent !== null && (
            <progress max={100} value={warm.percent ?? 0} aria-label={`Warm-up of ${item.name}`} />
          )}
          <span className="labrig-WarmUp-text">
            {running || warm.state === 'succeeded'
              ? `${warm.state === 'succeeded' ? 'warmed · ' : ''}${describeProgress(warm)}`
              : warm.state}
          </span>
          {warm.note && (
            <span className="labrig-WarmUp-note" data-testid="labrig-warmup-note">
              {warm.note}
            </span>
          )}
          {warm.error && !running && <span className="labrig-Error-inline">{warm.error}</span>}
        </div>
      )}
      <div className="labrig-Actions">
        {running ? (
          <ActionButton
            label="Cancel"
            ariaLabel={`Cancel the warm-up of ${item.name}`}
            disabled={busy}
            onClick={() => void act(async () => setWarm(await cancelWarmUp(item.name)))}
          />
        ) : (
          <ActionButton
            label="Warm"
            ariaLabel={`Warm ${item.name}: fetch every file into the cache`}
            disabled={busy}
            onClick={() => void act(async () => setWarm(await startWarmUp(item.name)))}
          />
        )}
        {item.mount_path ? (
          <ActionButton
            label="Unmount"
            ariaLabel={`Unmount ${item.name}`}
            disabled={busy}
            onClick={changeThenRefresh(unmountDataset)}
          />
        ) : (
          <ActionButton
            label="Mount"
            ariaLabel={`Mount ${item.name} for every kernel`}
            disabled={busy || running}
            onClick={changeThenRefresh(mountDataset)}
          />
        )}
        <ActionButton
          label="Refresh"
          disabled={busy || running}
          ariaLabel={`Check ${item.name} at its source for changes`}
          title="List the source again and show what changed before switching versions"
          onClick={() => void act(async () => setPreview(await refreshDataset(item.name)))}
        />
        {!item.admin && (
          <ActionButton
            label="Remove"
            ariaLabel={`Remove ${item.name} from the catalog`}
            disabled={busy || running}
            onClick={changeThenRefresh(deleteDataset)}
          />
        )}
      </div>
      <DatasetUsers name={item.name} />
      {preview && (
        <RefreshDialog
          preview={preview}
          onCancel={() => setPreview(null)}
          onConfirm={() =>
            void act(async () => {
              await confirmRefresh(item.name, preview.new_version);
              setPreview(null);
              onChanged();
            })
          }
        />
      )}
      {error && (
        <div className="labrig-Error" role="alert">
          {error}
        </div>
      )}
    </li>
  );
}

/**
 * What changed at the source, before switching the pinned version.
 */
export function RefreshDialog(props: {
  preview: IRefreshPreview;
  onConfirm: () => void;
  onCancel: () => void;
}): JSX.Element {
  const { preview } = props;
  const dialog = React.useRef<HTMLDivElement>(null);
  React.useEffect(() => {
    dialog.current?.querySelector('button')?.focus();
  }, []);
  return (
    <div
      ref={dialog}
      className="labrig-Dialog"
      role="dialog"
      aria-label={`Refresh ${preview.dataset}`}
      data-testid="labrig-refresh-dialog"
      onKeyDown={event => {
        if (event.key === 'Escape') {
          event.stopPropagation();
          props.onCancel();
        }
      }}
    >
      {preview.changed ? (
        <>
          <p>
            {preview.added} added, {preview.removed} removed, {preview.modified} modified since{' '}
            {preview.current_version?.slice(0, 8) ?? 'nothing'}.
          </p>
          <button type="button" className="jp-mod-styled jp-mod-accept" onClick={props.onConfirm}>
            Switch to {preview.new_version.slice(0, 8)}
          </button>
        </>
      ) : (
        <p>Nothing changed at the source.</p>
      )}
      <button type="button" className="jp-mod-styled" onClick={props.onCancel}>
        {preview.changed ? 'Keep current' : 'Close'}
      </button>
    </div>
  );
}

/**
 * The list of datasets.
 */
export function DatasetsView(props: {
  items: ReadonlyArray<IDatasetInfo>;
  onChanged: () => void;
  revealed?: string | null;
  revealKey?: number;
}): JSX.Element | null {
  if (props.items.length === 0) {
    return null;
  }
  return (
    <ul className="labrig-List" aria-label="Datasets">
      {props.items.map(item => (
        <DatasetRow
          key={item.name}
          item={item}
          onChanged={props.onChanged}
          revealed={props.revealed === item.name}
          revealKey={props.revealKey}
        />
      ))}
    </ul>
  );
}

/** The add form's inputs: label, server field, placeholder. */
const ADD_FIELDS: ReadonlyArray<[string, string, string]> = [
  ['Dataset name', 'name', 'name'],
  ['Source URL', 'source_url', 's3://bucket/prefix/, https://..., file:///...'],
  ['Include pattern', 'include', 'include (optional), e.g. *.parquet'],
  ['Endpoint URL', 'options', 'endpoint (optional, S3/OSS-compatible)']
];

/**
 * Add a dataset by name and source URL (and optional include pattern and endpoint). The
 * server's error shows beside the input it names, and what was typed stays.
 */
export function AddDatasetForm(props: { onAdded: () => void }): JSX.Element {
  const empty = { name: '', source_url: '', include: '', options: '' };
  const [values, setValues] = React.useState<{ [field: string]: string }>(empty);
  const [isPrivate, setPrivate] = React.useState(false);
  const form = useFormErrors([...ADD_FIELDS.map(([, field]) => field), 'private']);
  const ids = React.useId();

  const submit = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    const ok = await form.submit(() =>
      createDataset({
        name: values.name.trim(),
        source_url: values.source_url.trim(),
        ...(values.include.trim() ? { include: values.include.trim() } : {}),
        ...(values.options.trim() ? { options: { endpoint_url: values.options.trim() } } : {}),
        ...(isPrivate ? { private: true } : {})
      })
    );
    if (ok) {
      setValues(empty);
      setPrivate(false);
      props.onAdded();
    }
  };

  return (
    <form
      className="labrig-Form"
      aria-label="Add a dataset"
      data-testid="labrig-add-dataset"
      onSubmit={event => void submit(event)}
    >
      {ADD_FIELDS.map(([label, field, placeholder]) => (
        <div key={field} className="labrig-Field">
          <input
            id={`${ids}-${field}`}
            className="jp-mod-styled"
            name={field}
            aria-label={label}
            placeholder={placeholder}
            value={values[field]}
            autoComplete="off"
            spellCheck={false}
            onChange={event => setValues({ ...values, [field]: event.target.value })}
            {...form.inputProps(field)}
          />
          <FieldError form={form} field={field} />
        </div>
      ))}
      <label className="labrig-Field">
        <input
          type="checkbox"
          name="private"
          checked={isPrivate}
          onChange={event => setPrivate(event.target.checked)}
        />{' '}
        Private: only I (and administrators) see, warm and mount it
      </label>
      <FieldError form={form} field="private" />
      <button
        type="submit"
        className="jp-mod-styled jp-mod-accept"
        disabled={form.busy || !values.name.trim() || !values.source_url.trim()}
      >
        Add dataset
      </button>
      <FormError form={form} />
    </form>
  );
}
