/**
 * "Register as model": a dialog that registers a file or folder of the workspace as the next
 * version of a model (new or existing).
 */
import { Dialog, ReactWidget, showDialog } from '@jupyterlab/apputils';
import * as React from 'react';

import { basename } from '../panel/format';
import { LabrigAPIError, toLabrigError } from '../request';
import { IModelVersion, parseMetrics, registerVersion } from './api';

export interface IRegisterValues {
  name: string;
  metrics: string;
  note: string;
}

/**
 * A model name from a file name: `runs/resnet_mini-final.pt` -> `resnet_mini-final`.
 */
export function suggestName(path: string): string {
  const base = basename(path).replace(/\.[^.]*$/, '');
  const cleaned = base.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return cleaned.slice(0, 128) || 'model';
}

/**
 * The form inside the dialog; `error` is the last attempt's, shown beside the input it names.
 */
export function RegisterForm(props: {
  path: string;
  names: ReadonlyArray<string>;
  values: IRegisterValues;
  onChange: (values: IRegisterValues) => void;
  error?: LabrigAPIError | null;
}): JSX.Element {
  const { values, onChange, error } = props;
  const shown = ['name', 'metrics', 'note'];
  const messageFor = (field: string) => (error && error.field === field ? error.message : null);
  const other = error && !shown.includes(error.field ?? '') ? error.message : null;
  const fieldError = (field: string) =>
    messageFor(field) ? (
      <div id={`labrig-register-${field}-error`} className="labrig-FieldError" role="alert">
        {messageFor(field)}
      </div>
    ) : null;
  const invalid = (field: string) =>
    messageFor(field)
      ? { 'aria-invalid': true, 'aria-describedby': `labrig-register-${field}-error` }
      : { 'aria-invalid': false };
  return (
    <div className="labrig-RegisterForm" data-testid="labrig-register-form">
      <p>
        Register <code>{props.path}</code> as a new version.
      </p>
      {other && (
        <div className="labrig-Error" role="alert">
          {other}
        </div>
      )}
      <label>
        Model
        <input
          name="model"
          list="labrig-register-models"
          value={values.name}
          onChange={event => onChange({ ...values, name: event.target.value })}
          aria-label="Model name"
          {...invalid('name')}
        />
      </label>
      {fieldError('name')}
      <datalist id="labrig-register-models">
        {props.names.map(name => (
          <option key={name} value={name} />
        ))}
      </datalist>
      <label>
        Metrics
        <input
          name="metrics"
          placeholder="acc=0.91, loss=0.3"
          value={values.metrics}
          onChange={event => onChange({ ...values, metrics: event.target.value })}
          aria-label="Metrics"
          {...invalid('metrics')}
        />
      </label>
      {fieldError('metrics')}
      <label>
        Note
        <textarea
          name="note"
          value={values.note}
          onChange={event => onChange({ ...values, note: event.target.value })}
          aria-label="Note"
          {...invalid('note')}
        />
      </label>
      {fieldError('note')}
    </div>
  );
}

class RegisterBody extends ReactWidget implements Dialog.IBodyWidget<IRegisterValues> {
  constructor(
    private _path: string,
    private _names: ReadonlyArray<string>,
    values: IRegisterValues,
    private _error: LabrigAPIError | null
  ) {
    super();
    this._values = values;
  }

  getValue(): IRegisterValues {
    return this._values;
  }

  protected render(): JSX.Element {
    return (
      <RegisterForm
        path={this._path}
        names={this._names}
        values={this._values}
        error={this._error}
        onChange={values => {
          this._values = values;
          this.update();
        }}
      />
    );
  }

  private _values: IRegisterValues;
}

/**
 * Check the form and post it; returns the new version or throws a `LabrigAPIError` naming the
 * field that was wrong.
 */
export async function submitRegistration(
  path: string,
  values: IRegisterValues
): Promise<IModelVersion> {
  const name = values.name.trim();
  if (!name) {
    throw new LabrigAPIError({
      status: 0,
      reason: 'invalid_input',
      field: 'name',
      message: 'Give the model a name.'
    });
  }
  let metrics: { [name: string]: number };
  try {
    metrics = parseMetrics(values.metrics);
  } catch (reason) {
    throw new LabrigAPIError({
      status: 0,
      reason: 'invalid_input',
      field: 'metrics',
      message: reason instanceof Error ? reason.message : String(reason)
    });
  }
  try {
    return await registerVersion(name, { path, metrics, note: values.note });
  } catch (reason) {
    throw toLabrigError(reason);
  }
}

/**
 * Show the dialog for `path`; on Register, post it. A refusal opens the dialog again with what
 * was typed and the server's message beside the field it names. The registration's
 * notification comes from the panel, which sees the new version (`TransitionNotifier`).
 */
export async function showRegisterDialog(
  path: string,
  names: ReadonlyArray<string>,
  onRegistered?: (version: IModelVersion) => void
): Promise<IModelVersion | null> {
  let values: IRegisterValues = { name: suggestName(path), metrics: '', note: '' };
  let error: LabrigAPIError | null = null;
  for (;;) {
    const focus: string =
      error?.field === 'metrics' ? 'metrics' : error?.field === 'note' ? 'note' : 'model';
    const result = await showDialog({
      title: 'Register as model',
      body: new RegisterBody(path, names, values, error),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Register' })],
      focusNodeSelector: focus === 'note' ? 'textarea[name="note"]' : `input[name="${focus}"]`
    });
    if (!result.button.accept || result.value === null) {
      return null;
    }
    values = result.value;
    try {
      const version = await submitRegistration(path, values);
      onRegistered?.(version);
      return version;
    } catch (reason) {
      error = toLabrigError(reason);
      if (error.field === undefined && basename(path)) {
        error = new LabrigAPIError({
          status: error.status,
          reason: error.reason,
          message: `Could not register ${basename(path)}: ${error.message}`
        });
      }
    }
  }
}
