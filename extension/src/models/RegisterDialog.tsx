/**
 * "Register as model": a dialog that registers a file or folder of the workspace as the next
 * version of a model (new or existing).
 */
import { Dialog, Notification, ReactWidget, showDialog } from '@jupyterlab/apputils';
import * as React from 'react';

import { basename } from '../panel/format';
import { toLabrigError } from '../request';
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
 * The form inside the dialog.
 */
export function RegisterForm(props: {
  path: string;
  names: ReadonlyArray<string>;
  values: IRegisterValues;
  onChange: (values: IRegisterValues) => void;
}): JSX.Element {
  const { values, onChange } = props;
  return (
    <div className="labrig-RegisterForm" data-testid="labrig-register-form">
      <p>
        Register <code>{props.path}</code> as a new version.
      </p>
      <label>
        Model
        <input
          name="model"
          list="labrig-register-models"
          value={values.name}
          onChange={event => onChange({ ...values, name: event.target.value })}
          aria-label="Model name"
        />
      </label>
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
        />
      </label>
      <label>
        Note
        <textarea
          name="note"
          value={values.note}
          onChange={event => onChange({ ...values, note: event.target.value })}
          aria-label="Note"
        />
      </label>
    </div>
  );
}

class RegisterBody extends ReactWidget implements Dialog.IBodyWidget<IRegisterValues> {
  constructor(
    private _path: string,
    private _names: ReadonlyArray<string>
  ) {
    super();
    this._values = { name: suggestName(_path), metrics: '', note: '' };
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
 * Check the form and post it; returns the new version or throws a readable Error.
 */
export async function submitRegistration(
  path: string,
  values: IRegisterValues
): Promise<IModelVersion> {
  const name = values.name.trim();
  if (!name) {
    throw new Error('Give the model a name.');
  }
  const metrics = parseMetrics(values.metrics);
  try {
    return await registerVersion(name, { path, metrics, note: values.note });
  } catch (reason) {
    throw toLabrigError(reason);
  }
}

/**
 * Show the dialog for `path`; on Register, post it and report the result.
 */
export async function showRegisterDialog(
  path: string,
  names: ReadonlyArray<string>,
  onRegistered?: (version: IModelVersion) => void
): Promise<IModelVersion | null> {
  const result = await showDialog({
    title: 'Register as model',
    body: new RegisterBody(path, names),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Register' })],
    focusNodeSelector: 'input[name="model"]'
  });
  if (!result.button.accept || result.value === null) {
    return null;
  }
  try {
    const version = await submitRegistration(path, result.value);
    Notification.success(`Registered ${version.ref}`, { autoClose: 5000 });
    onRegistered?.(version);
    return version;
  } catch (reason) {
    const message = reason instanceof Error ? reason.message : String(reason);
    Notification.error(`Could not register ${basename(path)}: ${message}`, { autoClose: 8000 });
    return null;
  }
}
