/**
 * The "Run as job" form: typed parameter inputs from GET job-form, ranks and resources,
 * datasets, environment, name, priority, and "run now" or a cron schedule.
 */
import * as React from 'react';

import { listDatasets } from '../api';
import { LabrigAPIError, toLabrigError } from '../request';
import {
  createSchedule,
  getJobForm,
  IFormParameter,
  IJobCreate,
  IJobDetail,
  IJobForm,
  initialText,
  ISchedule,
  parseParameter,
  submitJob
} from './api';

export interface IRunJobFormProps {
  path: string;
  onSubmitted: (result: { job?: IJobDetail; schedule?: ISchedule }) => void;
}

/** Fields with their own error line; any other field's message shows under the form. */
const SHOWN_FIELDS = [
  'nodes',
  'procs_per_node',
  'cpus',
  'gpus',
  'datasets',
  'env',
  'name',
  'priority',
  'cron',
  'notebook_path'
];

/**
 * Checkboxes for the catalog's datasets; the caller owns which are checked. Checked names the
 * catalog lacks are unchecked once it is read, so nothing unseen is submitted.
 */
export function DatasetPicker(props: {
  checked: ReadonlyArray<string>;
  onChange: (names: string[]) => void;
  error?: React.ReactNode;
}): JSX.Element {
  const [names, setNames] = React.useState<string[] | null>(null);
  const [loadError, setLoadError] = React.useState<string | null>(null);
  const latest = React.useRef(props);
  latest.current = props;

  React.useEffect(() => {
    let live = true;
    listDatasets({ limit: 500 })
      .then(page => {
        if (!live) {
          return;
        }
        const catalog = page.items.map(d => d.name);
        setNames(catalog);
        const { checked, onChange } = latest.current;
        if (checked.some(name => !catalog.includes(name))) {
          onChange(checked.filter(name => catalog.includes(name)));
        }
      })
      .catch(error => live && setLoadError(toLabrigError(error).message));
    return () => {
      live = false;
    };
  }, []);

  const toggle = (name: string, on: boolean) =>
    props.onChange(
      on ? [...props.checked.filter(n => n !== name), name] : props.checked.filter(n => n !== name)
    );

  let body: React.ReactNode;
  if (loadError) {
    body = (
      <div className="labrig-Error" role="alert">
        {loadError}
      </div>
    );
  } else if (names === null) {
    body = <p className="labrig-Muted">Reading the dataset catalog…</p>;
  } else if (names.length === 0) {
    body = (
      <p className="labrig-Muted" data-testid="labrig-job-datasets-empty">
        No datasets in the catalog
      </p>
    );
  } else {
    body = names.map(name => (
      <label key={name} className="labrig-Check">
        <input
          type="checkbox"
          name="datasets"
          value={name}
          checked={props.checked.includes(name)}
          onChange={e => toggle(name, e.target.checked)}
        />{' '}
        {name}
      </label>
    ));
  }
  return (
    <fieldset className="labrig-Field labrig-Datasets" data-testid="labrig-job-datasets">
      <legend>Datasets to mount</legend>
      {body}
      {props.error}
    </fieldset>
  );
}

function parseEnv(text: string): { [name: string]: string } {
  const env: { [name: string]: string } = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) {
      continue;
    }
    const at = line.indexOf('=');
    if (at <= 0) {
      throw new Error(`environment line "${line}" is not NAME=value`);
    }
    env[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  return env;
}

/** Bytes as the quantity a person would type: 2147483648 -> "2Gi". */
export function memoryText(bytes: number): string {
  for (const [unit, size] of [
    ['Ti', 2 ** 40],
    ['Gi', 2 ** 30],
    ['Mi', 2 ** 20],
    ['Ki', 2 ** 10]
  ] as const) {
    if (bytes % size === 0) {
      return `${bytes / size}${unit}`;
    }
  }
  return String(bytes);
}

export function RunJobForm(props: IRunJobFormProps): JSX.Element {
  const [form, setForm] = React.useState<IJobForm | null>(null);
  const [loadError, setLoadError] = React.useState<string | null>(null);
  const [values, setValues] = React.useState<{ [name: string]: string | boolean }>({});
  const [nodes, setNodes] = React.useState('1');
  const [procs, setProcs] = React.useState('1');
  const [cpus, setCpus] = React.useState('1');
  const [memory, setMemory] = React.useState('');
  const [gpus, setGpus] = React.useState('0');
  const [datasets, setDatasets] = React.useState<string[]>([]);
  const [env, setEnv] = React.useState('');
  const [name, setName] = React.useState('');
  const [priority, setPriority] = React.useState('0');
  const [cron, setCron] = React.useState('');
  const [when, setWhen] = React.useState<'now' | 'cron'>('now');
  const [errors, setErrors] = React.useState<{ [field: string]: string }>({});
  const [busy, setBusy] = React.useState(false);

  React.useEffect(() => {
    let live = true;
    getJobForm(props.path)
      .then(value => {
        if (!live) {
          return;
        }
        setForm(value);
        setName(value.defaults.name);
        setCpus(String(value.defaults.cpus));
        setMemory(value.defaults.memory ? memoryText(value.defaults.memory) : '');
        setGpus(String(value.defaults.gpus));
        setDatasets(value.defaults.datasets ?? []);
        setPriority(String(value.defaults.priority ?? 0));
        const initial: { [name: string]: string | boolean } = {};
        value.parameters.forEach(p => (initial[p.name] = initialText(p)));
        setValues(initial);
      })
      .catch(error => live && setLoadError(toLabrigError(error).message));
    return () => {
      live = false;
    };
  }, [props.path]);

  if (loadError) {
    return (
      <div className="labrig-JobForm labrig-Error" role="alert">
        {loadError}
      </div>
    );
  }
  if (!form) {
    return <div className="labrig-JobForm">Reading the notebook's parameters…</div>;
  }

  const build = (): IJobCreate => {
    const found: { [field: string]: string } = {};
    const parameters: { [name: string]: unknown } = {};
    for (const param of form.parameters) {
      try {
        const value = parseParameter(param, values[param.name]);
        if (JSON.stringify(value) !== JSON.stringify(param.value)) {
          parameters[param.name] = value;
        }
      } catch (error) {
        found[`parameters.${param.name}`] = (error as Error).message;
      }
    }
    const whole = (field: string, text: string, low: number): number => {
      const value = Number(text);
      if (!/^\d+$/.test(text.trim()) || value < low) {
        found[field] = `${field.replace(/_/g, ' ')} must be a whole number of at least ${low}`;
      }
      return value;
    };
    const body: IJobCreate = {
      notebook_path: props.path,
      parameters,
      nodes: whole('nodes', nodes, 1),
      procs_per_node: whole('procs_per_node', procs, 1),
      gpus: whole('gpus', gpus, 0),
      priority: Number(priority) || 0,
      name: name.trim() || undefined,
      datasets: [...datasets]
    };
    if (memory.trim()) {
      body.memory = memory.trim(); // a quantity: the server reads it as `resources request` does
    }
    if (form.defaults.gpu_type && body.gpus) {
      body.gpu_type = form.defaults.gpu_type;
    }
    if (!cpus.trim()) {
      found.cpus = 'CPUs per process are needed: 1, 0.5 or 500m';
    }
    body.cpus = /^\d+(\.\d+)?$/.test(cpus.trim()) ? Number(cpus) : cpus.trim();
    try {
      body.env = parseEnv(env);
    } catch (error) {
      found.env = (error as Error).message;
    }
    if (when === 'cron' && !cron.trim()) {
      found.cron = 'a cron expression is needed, e.g. 0 3 * * *';
    }
    setErrors(found);
    if (Object.keys(found).length) {
      throw new Error('invalid');
    }
    return body;
  };

  const submit = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    let body: IJobCreate;
    try {
      body = build();
    } catch {
      return;
    }
    setBusy(true);
    try {
      if (when === 'cron') {
        props.onSubmitted({ schedule: await createSchedule(cron.trim(), body) });
      } else {
        props.onSubmitted({ job: await submitJob(body) });
      }
    } catch (error) {
      const err = toLabrigError(error);
      const named = err instanceof LabrigAPIError && err.field ? err.field : 'form';
      const shown = named.startsWith('parameters.') || SHOWN_FIELDS.includes(named);
      setErrors({ [shown ? named : 'form']: err.message });
    } finally {
      setBusy(false);
    }
  };

  const error = (field: string) =>
    errors[field] ? (
      <div className="labrig-FieldError" role="alert" data-testid={`labrig-error-${field}`}>
        {errors[field]}
      </div>
    ) : null;

  const paramInput = (param: IFormParameter) => {
    const id = `labrig-param-${param.name}`;
    const value = values[param.name];
    return (
      <div className="labrig-Field" key={param.name}>
        <label htmlFor={id}>
          {param.name} <span className="labrig-Muted">({param.declared_type ?? param.type})</span>
        </label>
        {param.type === 'bool' ? (
          <input
            id={id}
            type="checkbox"
            checked={value === true}
            onChange={e => setValues({ ...values, [param.name]: e.target.checked })}
          />
        ) : (
          <input
            id={id}
            type={param.type === 'int' || param.type === 'float' ? 'text' : 'text'}
            inputMode={param.type === 'int' || param.type === 'float' ? 'decimal' : undefined}
            value={String(value ?? '')}
            aria-invalid={!!errors[`parameters.${param.name}`]}
            onChange={e => setValues({ ...values, [param.name]: e.target.value })}
          />
        )}
        {param.help && <div className="labrig-Muted">{param.help}</div>}
        {error(`parameters.${param.name}`)}
      </div>
    );
  };

  const simple = (
    id: string,
    label: string,
    value: string,
    set: (v: string) => void,
    placeholder?: string
  ) => (
    <div className="labrig-Field">
      <label htmlFor={`labrig-job-${id}`}>{label}</label>
      <input
        id={`labrig-job-${id}`}
        value={value}
        placeholder={placeholder}
        aria-invalid={!!errors[id]}
        onChange={e => set(e.target.value)}
      />
      {error(id)}
    </div>
  );

  return (
    <form className="labrig-JobForm" onSubmit={e => void submit(e)} aria-label="Run as job">
      <h3>Run {props.path} as a job</h3>
      {form.note && <p className="labrig-Muted">{form.note}</p>}
      <fieldset>
        <legend>Parameters</legend>
        {form.parameters.length === 0 && <p className="labrig-Muted">No parameters.</p>}
        {form.parameters.map(paramInput)}
      </fieldset>
      <fieldset>
        <legend>Ranks and resources</legend>
        {simple('nodes', 'Nodes', nodes, setNodes)}
        {simple('procs_per_node', 'Processes per node', procs, setProcs)}
        {simple('cpus', 'CPUs per process (1, 0.5 or 500m)', cpus, setCpus)}
        {simple('memory', 'Memory per process (4Gi; empty: no limit)', memory, setMemory)}
        {simple(
          'gpus',
          `GPUs per process${form.defaults.gpu_type ? ` (${form.defaults.gpu_type})` : ''} (host has ${form.host.gpus})`,
          gpus,
          setGpus
        )}
        <DatasetPicker checked={datasets} onChange={setDatasets} error={error('datasets')} />
        <div className="labrig-Field">
          <label htmlFor="labrig-job-env">Environment (NAME=value per line)</label>
          <textarea id="labrig-job-env" value={env} onChange={e => setEnv(e.target.value)} />
          {error('env')}
        </div>
      </fieldset>
      <fieldset>
        <legend>Job</legend>
        {simple('name', 'Name', name, setName)}
        {simple('priority', 'Priority', priority, setPriority)}
        <div className="labrig-Field">
          <label>
            <input type="radio" checked={when === 'now'} onChange={() => setWhen('now')} /> Run now
          </label>
          <label>
            <input type="radio" checked={when === 'cron'} onChange={() => setWhen('cron')} /> On a
            schedule
          </label>
        </div>
        {when === 'cron' && simple('cron', 'Cron expression', cron, setCron, '0 3 * * *')}
      </fieldset>
      {error('form')}
      {error('notebook_path')}
      <button type="submit" className="jp-mod-styled jp-mod-accept" disabled={busy}>
        {when === 'cron' ? 'Create schedule' : 'Run job'}
      </button>
    </form>
  );
}
