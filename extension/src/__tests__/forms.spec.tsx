import * as React from 'react';
import { Root } from 'react-dom/client';

import { AddDatasetForm } from '../datasets/DatasetsView';
import { RegisterForm, submitRegistration } from '../models/RegisterDialog';
import { fieldMatches } from '../panel/forms';
import { NewModelForm, parseTags } from '../panel/NewModelForm';
import { LabrigAPIError, requestAPI } from '../request';
import { mountPoint, unmountPoint } from './mountPoint';

jest.mock('../request', () => ({
  ...jest.requireActual('../request'),
  requestAPI: jest.fn()
}));

const mockRequest = requestAPI as jest.MockedFunction<typeof requestAPI>;
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const refusal = (field: string, message: string) =>
  new LabrigAPIError({ status: 400, reason: 'invalid_input', field, message });

describe('field-level errors in the panel forms', () => {
  let host: HTMLElement;
  let root: Root;
  const input = (name: string) => host.querySelector(`[name="${name}"]`) as HTMLInputElement;
  const type = (element: HTMLInputElement, value: string) =>
    React.act(async () => {
      const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
      setter.call(element, value);
      element.dispatchEvent(new Event('input', { bubbles: true }));
    });
  const submit = () =>
    React.act(async () => {
      (host.querySelector('form') as HTMLFormElement).requestSubmit();
    });
  const describedError = (name: string) => {
    const id = input(name).getAttribute('aria-describedby');
    return id ? document.getElementById(id)?.textContent : null;
  };

  beforeEach(() => {
    mockRequest.mockReset();
    ({ host, root } = mountPoint());
  });

  afterEach(async () => {
    await unmountPoint(root, host);
  });

  it('matches server fields to inputs', () => {
    expect(fieldMatches('options.endpoint_url', 'options')).toBe(true);
    expect(fieldMatches('tags[team]', 'tags')).toBe(true);
    expect(fieldMatches('name', 'names')).toBe(false);
    expect(fieldMatches(undefined, 'name')).toBe(false);
  });

  it('Add dataset: the source error beside Source URL, what was typed kept', async () => {
    mockRequest.mockRejectedValueOnce(
      refusal('source_url', "dataset 'd': scheme 'ftp' is not supported")
    );
    const onAdded = jest.fn();
    await React.act(async () => root.render(<AddDatasetForm onAdded={onAdded} />));
    await type(input('name'), 'd');
    await type(input('source_url'), 'ftp://x/y');
    await submit();
    expect(describedError('source_url')).toBe("dataset 'd': scheme 'ftp' is not supported");
    expect(input('source_url').getAttribute('aria-invalid')).toBe('true');
    expect(input('name').getAttribute('aria-invalid')).toBe('false');
    expect(input('source_url').value).toBe('ftp://x/y');
    expect(input('name').value).toBe('d');
    expect(onAdded).not.toHaveBeenCalled();

    // An endpoint error lands on the endpoint input; an error naming no input under the form.
    mockRequest.mockRejectedValueOnce(refusal('options.endpoint_url', 'bad endpoint'));
    await submit();
    expect(describedError('options')).toBe('bad endpoint');
    mockRequest.mockRejectedValueOnce(
      new LabrigAPIError({ status: 503, reason: 'unavailable', message: 'source down' })
    );
    await submit();
    expect(host.querySelector('.labrig-Error[role="alert"]')!.textContent).toBe('source down');
  });

  it('New model: a bad tag is refused beside Tags before anything is sent', async () => {
    const onCreate = jest.fn();
    await React.act(async () => root.render(<NewModelForm onCreate={onCreate} />));
    await React.act(async () => {
      (host.querySelector('button') as HTMLButtonElement).click();
    });
    await type(input('name'), 'demo');
    await type(input('tags'), 'team');
    await submit();
    expect(onCreate).not.toHaveBeenCalled();
    expect(describedError('tags')).toBe('tag "team" is not KEY=VALUE, e.g. team=vision');

    onCreate.mockRejectedValueOnce(refusal('tags', "tags['x'] is not allowed"));
    await type(input('tags'), 'x=1');
    await submit();
    expect(onCreate).toHaveBeenCalledWith({ name: 'demo', tags: { x: '1' } });
    expect(describedError('tags')).toBe("tags['x'] is not allowed");
    expect(input('name').value).toBe('demo');
    expect(parseTags(' a = 1 ,b=2,')).toEqual({ a: '1', b: '2' });
  });

  it('Register as model: the error shows beside the field it names', async () => {
    const values = { name: 'm', metrics: 'acc=high', note: '' };
    await expect(submitRegistration('w.pt', values)).rejects.toMatchObject({
      field: 'metrics',
      message: 'metric acc is not a finite number'
    });
    await expect(submitRegistration('w.pt', { ...values, name: ' ' })).rejects.toMatchObject({
      field: 'name'
    });
    await React.act(async () =>
      root.render(
        <RegisterForm
          path="w.pt"
          names={[]}
          values={values}
          onChange={() => undefined}
          error={refusal('metrics', 'metric acc is not a finite number')}
        />
      )
    );
    expect(describedError('metrics')).toBe('metric acc is not a finite number');
    expect(input('metrics').value).toBe('acc=high');
    expect(input('model').getAttribute('aria-invalid')).toBe('false');
  });
});
