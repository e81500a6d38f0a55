/**
 * Field-level errors for the panel's forms: the server names the input that was wrong
 * (`field` in its error JSON); the form shows the message beside that input, marks it invalid
 * and keeps what the user typed. An error that names no input of the form shows under it.
 */
import * as React from 'react';

import { LabrigAPIError, toLabrigError } from '../request';

export interface IFormErrors {
  /** The last submission's error, or null. */
  readonly error: LabrigAPIError | null;
  readonly busy: boolean;
  /** Run a submission; on failure its error is kept (typed values are untouched). */
  submit(work: () => Promise<unknown>): Promise<boolean>;
  /** Show an error found before asking the server (e.g. a value that does not parse). */
  setError(error: LabrigAPIError | null): void;
  /** The message for one input, when the error names it. */
  messageFor(field: string): string | null;
  /** The message naming none of the form's inputs (shown under the form), or null. */
  readonly formMessage: string | null;
  /** `aria-invalid` and `aria-describedby` for one input. */
  inputProps(field: string): { 'aria-invalid': boolean; 'aria-describedby'?: string };
  /** The DOM id of one input's error message. */
  errorId(field: string): string;
}

/**
 * Whether a server `field` belongs to a form input: the same name, or a part of it
 * (`options.endpoint_url` to `options`, `parameters.lr` stays `parameters.lr`).
 */
export function fieldMatches(serverField: string | undefined, field: string): boolean {
  if (!serverField) {
    return false;
  }
  return (
    serverField === field ||
    serverField.startsWith(`${field}.`) ||
    serverField.startsWith(`${field}[`)
  );
}

/**
 * The error state of one form whose inputs are `fields` (server field names).
 */
export function useFormErrors(fields: ReadonlyArray<string>): IFormErrors {
  const [error, setError] = React.useState<LabrigAPIError | null>(null);
  const [busy, setBusy] = React.useState(false);
  const base = React.useId();
  const mounted = React.useRef(true);
  React.useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const owner = (field: string | undefined): string | null =>
    fields.find(name => fieldMatches(field, name)) ?? null;
  const errorId = (field: string): string =>
    `${base}-${field.replace(/[^A-Za-z0-9_-]/g, '_')}-error`;
  const messageFor = (field: string): string | null =>
    error && owner(error.field) === field ? error.message : null;

  return {
    error,
    busy,
    setError,
    async submit(work: () => Promise<unknown>): Promise<boolean> {
      setBusy(true);
      setError(null);
      try {
        await work();
        return true;
      } catch (reason) {
        if (mounted.current) {
          setError(toLabrigError(reason));
        }
        return false;
      } finally {
        if (mounted.current) {
          setBusy(false);
        }
      }
    },
    messageFor,
    formMessage: error && owner(error.field) === null ? error.message : null,
    inputProps(field: string) {
      const invalid = messageFor(field) !== null;
      return invalid
        ? { 'aria-invalid': true, 'aria-describedby': errorId(field) }
        : { 'aria-invalid': false };
    },
    errorId
  };
}

/**
 * The message beside one input (nothing when the error is about another input).
 */
export function FieldError(props: { form: IFormErrors; field: string }): JSX.Element | null {
  const message = props.form.messageFor(props.field);
  if (!message) {
    return null;
  }
  return (
    <div
      id={props.form.errorId(props.field)}
      className="labrig-FieldError"
      role="alert"
      data-testid={`labrig-field-error-${props.field}`}
    >
      {message}
    </div>
  );
}

/**
 * The message of an error that names none of the form's inputs.
 */
export function FormError(props: { form: IFormErrors; testId?: string }): JSX.Element | null {
  if (!props.form.formMessage) {
    return null;
  }
  return (
    <div className="labrig-Error" role="alert" data-testid={props.testId}>
      {props.form.formMessage}
    </div>
  );
}
