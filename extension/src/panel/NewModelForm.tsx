import * as React from 'react';

import { IModel, IModelCreate } from '../api';
import { LabrigAPIError, toLabrigError } from '../request';

/**
 * Props of the "New model" form.
 */
export interface INewModelFormProps {
  /** Creates the model; rejects with a `LabrigAPIError` carrying the server's message. */
  onCreate: (body: IModelCreate) => Promise<IModel>;
}

/**
 * A "New model" button that opens a small form (name, description).
 */
export function NewModelForm(props: INewModelFormProps): JSX.Element {
  const [open, setOpen] = React.useState(false);
  const [name, setName] = React.useState('');
  const [description, setDescription] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const [error, setError] = React.useState<LabrigAPIError | null>(null);
  const [created, setCreated] = React.useState<string | null>(null);
  const nameRef = React.useRef<HTMLInputElement>(null);
  const mounted = React.useRef(true);

  React.useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  React.useEffect(() => {
    if (open) {
      nameRef.current?.focus();
    }
  }, [open]);

  const close = (): void => {
    setOpen(false);
    setError(null);
    setName('');
    setDescription('');
  };

  const submit = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    const trimmed = name.trim();
    if (!trimmed || busy) {
      return;
    }
    setBusy(true);
    setError(null);
    setCreated(null);
    try {
      const body: IModelCreate = { name: trimmed };
      if (description.trim()) {
        body.description = description.trim();
      }
      const model = await props.onCreate(body);
      if (!mounted.current) {
        return;
      }
      setCreated(model.name);
      close();
    } catch (reason) {
      if (mounted.current) {
        setError(toLabrigError(reason));
        nameRef.current?.focus();
      }
    } finally {
      if (mounted.current) {
        setBusy(false);
      }
    }
  };

  if (!open) {
    return (
      <div className="labrig-NewModel">
        {created && (
          <p className="labrig-Notice" role="status">
            Created model <strong>{created}</strong>.
          </p>
        )}
        <button
          type="button"
          className="jp-mod-styled labrig-Button labrig-NewModel-open"
          onClick={() => {
            setCreated(null);
            setOpen(true);
          }}
        >
          New model
        </button>
      </div>
    );
  }

  const nameInvalid = error !== null && (error.field === undefined || error.field === 'name');
  return (
    <form
      className="labrig-NewModel labrig-Form"
      aria-label="New model"
      data-testid="labrig-new-model-form"
      onSubmit={event => void submit(event)}
      onKeyDown={event => {
        if (event.key === 'Escape') {
          event.stopPropagation();
          close();
        }
      }}
    >
      <label className="labrig-Field">
        <span className="labrig-Field-label">Name</span>
        <input
          ref={nameRef}
          className="jp-mod-styled labrig-Input"
          name="name"
          value={name}
          placeholder="e.g. resnet50-imagenet"
          autoComplete="off"
          spellCheck={false}
          required
          aria-invalid={nameInvalid}
          aria-describedby={error ? 'labrig-new-model-error' : undefined}
          onChange={event => setName(event.target.value)}
        />
      </label>
      <label className="labrig-Field">
        <span className="labrig-Field-label">Description</span>
        <input
          className="jp-mod-styled labrig-Input"
          name="description"
          value={description}
          placeholder="optional"
          autoComplete="off"
          aria-invalid={error?.field === 'description'}
          onChange={event => setDescription(event.target.value)}
        />
      </label>
      {error && (
        <div id="labrig-new-model-error" className="labrig-Error" role="alert">
          {error.message}
        </div>
      )}
      <div className="labrig-Form-actions">
        <button
          type="button"
          className="jp-mod-styled labrig-Button"
          onClick={close}
          disabled={busy}
        >
          Cancel
        </button>
        <button
          type="submit"
          className="jp-mod-styled jp-mod-accept labrig-Button"
          disabled={busy || name.trim().length === 0}
        >
          {busy ? 'Creating…' : 'Create'}
        </button>
      </div>
    </form>
  );
}
