import * as React from 'react';

import { IModel, IModelCreate } from '../api';
import { LabrigAPIError } from '../request';
import { FieldError, FormError, useFormErrors } from './forms';

/**
 * Props of the "New model" form.
 */
export interface INewModelFormProps {
  /** Creates the model; rejects with a `LabrigAPIError` carrying the server's message. */
  onCreate: (body: IModelCreate) => Promise<IModel>;
}

/**
 * `team=vision, task=cls` -> `{team: 'vision', task: 'cls'}`; throws a field error on `tags`.
 */
export function parseTags(text: string): { [key: string]: string } {
  const tags: { [key: string]: string } = {};
  for (const part of text.split(',')) {
    const item = part.trim();
    if (!item) {
      continue;
    }
    const eq = item.indexOf('=');
    if (eq <= 0) {
      throw new LabrigAPIError({
        status: 0,
        reason: 'invalid_input',
        field: 'tags',
        message: `tag "${item}" is not KEY=VALUE, e.g. team=vision`
      });
    }
    tags[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return tags;
}

const FIELDS = ['name', 'description', 'tags'];

/**
 * A "New model" button that opens a small form (name, description, tags). The server's error
 * shows beside the input it names; Escape closes the form.
 */
export function NewModelForm(props: INewModelFormProps): JSX.Element {
  const [open, setOpen] = React.useState(false);
  const [name, setName] = React.useState('');
  const [description, setDescription] = React.useState('');
  const [tags, setTags] = React.useState('');
  const [created, setCreated] = React.useState<string | null>(null);
  const nameRef = React.useRef<HTMLInputElement>(null);
  const openRef = React.useRef<HTMLButtonElement>(null);
  const wasOpen = React.useRef(false);
  const form = useFormErrors(FIELDS);
  const { setError } = form;

  React.useEffect(() => {
    if (open) {
      nameRef.current?.focus();
    } else if (wasOpen.current) {
      openRef.current?.focus();
    }
    wasOpen.current = open;
  }, [open]);

  const close = (): void => {
    setOpen(false);
    setError(null);
    setName('');
    setDescription('');
    setTags('');
  };

  const submit = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    const trimmed = name.trim();
    if (!trimmed || form.busy) {
      return;
    }
    setCreated(null);
    let model: IModel | null = null;
    const ok = await form.submit(async () => {
      const body: IModelCreate = { name: trimmed };
      if (description.trim()) {
        body.description = description.trim();
      }
      const parsed = parseTags(tags);
      if (Object.keys(parsed).length) {
        body.tags = parsed;
      }
      model = await props.onCreate(body);
    });
    if (ok && model) {
      setCreated((model as IModel).name);
      close();
    } else {
      nameRef.current?.focus();
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
          ref={openRef}
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
          onChange={event => setName(event.target.value)}
          {...form.inputProps('name')}
        />
      </label>
      <FieldError form={form} field="name" />
      <label className="labrig-Field">
        <span className="labrig-Field-label">Description</span>
        <input
          className="jp-mod-styled labrig-Input"
          name="description"
          value={description}
          placeholder="optional"
          autoComplete="off"
          onChange={event => setDescription(event.target.value)}
          {...form.inputProps('description')}
        />
      </label>
      <FieldError form={form} field="description" />
      <label className="labrig-Field">
        <span className="labrig-Field-label">Tags</span>
        <input
          className="jp-mod-styled labrig-Input"
          name="tags"
          value={tags}
          placeholder="optional: team=vision, task=cls"
          autoComplete="off"
          spellCheck={false}
          onChange={event => setTags(event.target.value)}
          {...form.inputProps('tags')}
        />
      </label>
      <FieldError form={form} field="tags" />
      <FormError form={form} />
      <div className="labrig-Form-actions">
        <button
          type="button"
          className="jp-mod-styled labrig-Button"
          onClick={close}
          disabled={form.busy}
        >
          Cancel
        </button>
        <button
          type="submit"
          className="jp-mod-styled jp-mod-accept labrig-Button"
          disabled={form.busy || name.trim().length === 0}
        >
          {form.busy ? 'Creating…' : 'Create'}
        </button>
      </div>
    </form>
  );
}
