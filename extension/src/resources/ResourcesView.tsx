import * as React from 'react';

import { basename, formatBytes, plural } from '../panel/format';
import { ByOwner } from '../panel/owner';
import { LabrigAPIError, toLabrigError } from '../request';
import {
  getResourceUsage,
  IEnforcement,
  IResourceProfile,
  IResourceRequestBody,
  IResourceShow,
  IResourceUsage,
  listResourceProfiles,
  releaseResources,
  requestResources,
  showResources
} from './api';
import { confirmDialog } from './confirm';
import { KernelStop, KernelWaiting } from './KernelState';

/** How often live usage is sampled while the section is shown. */
export const USAGE_INTERVAL_MS = 3000;

export type ConfirmFn = (title: string, body: string, accept: string) => Promise<boolean>;

export interface IResourcesViewProps {
  notebookPath: string;
  /** Asked before a kernel restarts; a JupyterLab dialog by default. */
  confirm?: ConfirmFn;
  /** Usage sampling interval in ms. */
  interval?: number;
  /** Starts the notebook's kernel again (offered after a stop); none: no Restart button. */
  onRestartKernel?: (notebookPath: string) => Promise<void>;
}

const CUSTOM_FIELDS = ['cpus', 'memory', 'gpus', 'gpu_type', 'disk'] as const;
type CustomField = (typeof CUSTOM_FIELDS)[number];
type CustomValues = { [K in CustomField]: string };
const NO_VALUES: CustomValues = { cpus: '', memory: '', gpus: '', gpu_type: '', disk: '' };
const LABELS: { [K in CustomField]: string } = {
  cpus: 'CPUs',
  memory: 'Memory',
  gpus: 'GPUs',
  gpu_type: 'GPU type',
  disk: 'Scratch disk'
};
const PLACEHOLDERS: { [K in CustomField]: string } = {
  cpus: '2 or 500m',
  memory: '4Gi',
  gpus: '0',
  gpu_type: 'any',
  disk: '10Gi'
};

/**
 * The Resources section for the notebook in focus: what its kernel holds, live usage bars,
 * enforced/advisory labels, and the request form (profiles + custom values).
 */
export function ResourcesView(props: IResourcesViewProps): JSX.Element {
  const { notebookPath } = props;
  const confirm = props.confirm ?? confirmDialog;
  const interval = props.interval ?? USAGE_INTERVAL_MS;
  const [shown, setShown] = React.useState<IResourceShow | null>(null);
  const [profiles, setProfiles] = React.useState<IResourceProfile[]>([]);
  const [usage, setUsage] = React.useState<IResourceUsage | null>(null);
  const [error, setError] = React.useState<LabrigAPIError | null>(null);
  const [notice, setNotice] = React.useState<string | null>(null);
  const [busy, setBusy] = React.useState(false);
  const [profile, setProfile] = React.useState('');
  const [values, setValues] = React.useState<CustomValues>(NO_VALUES);
  const [usageTick, setUsageTick] = React.useState(0);

  React.useEffect(() => {
    let active = true;
    setShown(null);
    setUsage(null);
    setError(null);
    setNotice(null);
    setValues(NO_VALUES);
    Promise.all([showResources(notebookPath), listResourceProfiles()])
      .then(([show, list]) => {
        if (!active) {
          return;
        }
        setShown(show);
        setProfiles(list.items);
        setProfile(show.request?.profile ?? list.default ?? list.items[0]?.slug ?? '');
      })
      .catch(reason => active && setError(toLabrigError(reason)));
    return () => {
      active = false;
    };
  }, [notebookPath]);

  React.useEffect(() => {
    let active = true;
    const sample = (): void => {
      getResourceUsage(notebookPath)
        .then(value => active && setUsage(value))
        .catch(() => undefined); // the next sample retries; errors of actions are shown
    };
    sample();
    const timer = setInterval(sample, interval);
    return () => {
      active = false;
      clearInterval(timer);
    };
  }, [notebookPath, interval, usageTick]);

  const selected = profiles.find(p => p.slug === profile) ?? null;

  const apply = async (): Promise<void> => {
    const body: IResourceRequestBody = { profile };
    if (selected?.allow_custom) {
      for (const field of CUSTOM_FIELDS) {
        const value = values[field].trim();
        if (value) {
          (body as { [key: string]: string })[field] = value;
        }
      }
    }
    const name = basename(notebookPath);
    const ok = await confirm(
      'Apply resources and restart the kernel?',
      `The kernel of ${name} will restart with the new resources. ` +
        'Its state will be lost: variables, imports and anything held in memory.',
      'Restart kernel'
    );
    if (!ok) {
      return;
    }
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const result = await requestResources(notebookPath, body);
      setShown(result);
      const restarted = result.restarted_kernels?.length ?? 0;
      setNotice(
        restarted
          ? `Applied: ${plural(restarted, 'kernel')} restarted with the new resources.`
          : 'Saved: the kernel gets these resources when it starts.'
      );
      setUsageTick(tick => tick + 1);
    } catch (reason) {
      setError(toLabrigError(reason));
    } finally {
      setBusy(false);
    }
  };

  const release = async (): Promise<void> => {
    const ok = await confirm(
      'Release resources and restart the kernel?',
      `The kernel of ${basename(notebookPath)} will restart with the server's defaults. ` +
        'Its state will be lost.',
      'Restart kernel'
    );
    if (!ok) {
      return;
    }
    setBusy(true);
    setError(null);
    try {
      setShown(await releaseResources(notebookPath));
      setNotice('Released: the kernel runs with the server defaults.');
      setUsageTick(tick => tick + 1);
    } catch (reason) {
      setError(toLabrigError(reason));
    } finally {
      setBusy(false);
    }
  };

  // An error naming one input shows beside it; any other under the form.
  const errorField =
    error?.field &&
    (error.field === 'profile' || (CUSTOM_FIELDS as ReadonlyArray<string>).includes(error.field))
      ? error.field
      : null;
  const fieldError = (field: string) =>
    errorField === field ? (
      <div
        id={`labrig-resources-${field}-error`}
        className="labrig-FieldError"
        role="alert"
        data-testid={`labrig-field-error-${field}`}
      >
        {error?.message}
      </div>
    ) : null;
  const invalid = (field: string) =>
    errorField === field
      ? { 'aria-invalid': true, 'aria-describedby': `labrig-resources-${field}-error` }
      : { 'aria-invalid': false };

  const lastStop = usage?.last_stop ?? shown?.last_stop ?? null;
  const allocation = shown?.allocations[shown.allocations.length - 1] ?? null;
  const request = shown?.request ?? null;
  // Another user's request: the server would refuse a save (403), so say so before one.
  const readOnly = shown !== null && !shown.may_change;
  const locked = busy || readOnly;

  return (
    <div className="labrig-Resources" data-testid="labrig-resources-view">
      <div className="labrig-Selected">
        <span className="labrig-Selected-text">
          Notebook: <strong title={notebookPath}>{basename(notebookPath)}</strong>
        </span>
      </div>
      {lastStop && (
        <KernelStop
          stop={lastStop}
          onRestart={
            props.onRestartKernel && !usage?.running && !usage?.waiting
              ? async () => {
                  await props.onRestartKernel?.(notebookPath);
                  setUsageTick(tick => tick + 1);
                }
              : undefined
          }
        />
      )}
      {shown && (
        <div className="labrig-Resources-now" data-testid="labrig-resources-now">
          <div className="labrig-Item-secondary">
            {request ? describe(request) : 'Server defaults (no request saved)'}
            {shown.owner && request && ' · saved '}
            {request && <ByOwner owner={shown.owner} role="Saved by" />}
            {usage && ` · ${kernelStatus(usage)}`}
          </div>
          {usage?.waiting && <KernelWaiting waiting={usage.waiting} />}
          {allocation?.gpus.map(gpu => (
            <div key={gpu.uuid} className="labrig-Item-secondary" title={gpu.uuid}>
              GPU {gpu.model ?? ''} {gpu.uuid}
            </div>
          ))}
        </div>
      )}
      {usage && <UsageBars usage={usage} />}
      <form
        className="labrig-Resources-form"
        aria-label="Request resources"
        onSubmit={event => {
          event.preventDefault();
          if (!locked) {
            void apply(); // Enter in a field submits even while Apply is disabled
          }
        }}
      >
        {readOnly && (
          <p className="labrig-ReadOnlyNote" role="note" data-testid="labrig-resources-read-only">
            These resources were saved by {shown?.owner ?? 'another user'}: only they or an
            administrator can change or release them.
          </p>
        )}
        <label className="labrig-Field">
          <span className="labrig-Field-label">Profile</span>
          <select
            className="labrig-Input jp-mod-styled"
            name="profile"
            value={profile}
            onChange={event => setProfile(event.target.value)}
            disabled={locked || profiles.length === 0}
            {...invalid('profile')}
          >
            {profiles.map(p => (
              <option key={p.slug} value={p.slug}>
                {p.display_name}
              </option>
            ))}
          </select>
        </label>
        {fieldError('profile')}
        {selected && <p className="labrig-Hint">{selected.description}</p>}
        {selected?.allow_custom &&
          CUSTOM_FIELDS.map(field => (
            <React.Fragment key={field}>
              <label className="labrig-Field">
                <span className="labrig-Field-label">{LABELS[field]}</span>
                <input
                  className="labrig-Input jp-mod-styled"
                  name={field}
                  value={values[field]}
                  placeholder={placeholder(selected, field)}
                  disabled={locked}
                  onChange={event => setValues({ ...values, [field]: event.target.value })}
                  {...invalid(field)}
                />
              </label>
              {fieldError(field)}
            </React.Fragment>
          ))}
        {error && !errorField && (
          <div className="labrig-Error" role="alert" data-testid="labrig-resources-error">
            {error.message}
          </div>
        )}
        {notice && (
          <div className="labrig-Notice" role="status">
            {notice}
          </div>
        )}
        <div className="labrig-Resources-actions">
          <button
            type="submit"
            className="jp-mod-styled jp-mod-accept"
            disabled={locked || !profile}
          >
            Apply
          </button>
          {request && (
            <button
              type="button"
              className="jp-mod-styled"
              disabled={locked}
              onClick={() => void release()}
            >
              Release
            </button>
          )}
        </div>
      </form>
    </div>
  );
}

function kernelStatus(usage: IResourceUsage): string {
  if (usage.running) {
    return 'kernel running';
  }
  return usage.waiting ? 'kernel starting' : 'no kernel running';
}

function placeholder(profile: IResourceProfile, field: CustomField): string {
  const value =
    field === 'memory' || field === 'disk'
      ? profile[field] !== null
        ? formatBytes(profile[field] as number)
        : null
      : profile[field];
  return value === null || value === undefined ? PLACEHOLDERS[field] : String(value);
}

function describe(request: NonNullable<IResourceShow['request']>): string {
  const parts: string[] = [];
  if (request.profile) {
    parts.push(request.profile);
  }
  if (request.cpus !== null) {
    parts.push(plural(request.cpus, 'CPU'));
  }
  if (request.memory !== null) {
    parts.push(`${formatBytes(request.memory)} memory`);
  }
  if (request.gpus > 0) {
    parts.push(plural(request.gpus, 'GPU') + (request.gpu_type ? ` (${request.gpu_type})` : ''));
  }
  if (request.disk !== null) {
    parts.push(`${formatBytes(request.disk)} scratch`);
  }
  return parts.join(' · ');
}

function Badge(props: { label: IEnforcement }): JSX.Element {
  const { state, mechanism } = props.label;
  return (
    <span
      className={`labrig-Badge labrig-mod-${state}`}
      title={mechanism}
      data-testid="labrig-enforcement"
    >
      {state}
    </span>
  );
}

/**
 * One usage bar: used against the limit, with the enforcement badge.
 */
export function UsageBar(props: {
  name: string;
  percent: number | null;
  text: string;
  label: IEnforcement;
}): JSX.Element {
  const { name, percent, text, label } = props;
  const width = percent === null ? 0 : Math.min(100, Math.max(0, percent));
  return (
    <div className="labrig-Usage" data-testid={`labrig-usage-${name.toLowerCase()}`}>
      <div className="labrig-Usage-head">
        <span className="labrig-Usage-name">{name}</span>
        <span className="labrig-Usage-text">{text}</span>
        <Badge label={label} />
      </div>
      <div
        className={`labrig-Bar${width >= 90 ? ' labrig-mod-high' : ''}`}
        role="meter"
        aria-label={`${name} usage`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(width)}
      >
        <div className="labrig-Bar-fill" style={{ width: `${width}%` }} />
      </div>
    </div>
  );
}

function ofLimit(used: string, limit: string | null): string {
  return limit === null ? `${used} (no limit)` : `${used} of ${limit}`;
}

function UsageBars(props: { usage: IResourceUsage }): JSX.Element {
  const { cpu, memory, disk, gpus, gpu } = props.usage;
  return (
    <div className="labrig-UsageBars" aria-label="Live usage">
      <UsageBar
        name="CPU"
        percent={cpu.percent}
        label={cpu}
        text={ofLimit(
          cpu.used === null ? '–' : `${cpu.used.toFixed(2)} CPUs`,
          cpu.limit === null ? null : plural(cpu.limit, 'CPU')
        )}
      />
      <UsageBar
        name="Memory"
        percent={memory.percent}
        label={memory}
        text={ofLimit(
          memory.used === null ? '–' : formatBytes(memory.used),
          memory.limit === null ? null : formatBytes(memory.limit)
        )}
      />
      {gpus.map(item => (
        <UsageBar
          key={item.uuid}
          name={`GPU ${item.model ?? ''}`.trim()}
          percent={item.utilization}
          label={gpu}
          text={
            item.utilization === null
              ? 'utilisation not reported (no NVML)'
              : `${item.utilization}%` +
                (item.memory_used !== null ? ` · ${formatBytes(item.memory_used)}` : '')
          }
        />
      ))}
      <UsageBar
        name="Disk"
        percent={disk.percent}
        label={disk}
        text={ofLimit(
          disk.used === null ? '–' : formatBytes(disk.used),
          disk.limit === null ? null : formatBytes(disk.limit)
        )}
      />
      {disk.warning && (
        <div className="labrig-Warning" role="status">
          {disk.warning}
        </div>
      )}
    </div>
  );
}
