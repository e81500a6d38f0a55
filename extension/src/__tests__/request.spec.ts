import { ServerConnection } from '@jupyterlab/services';

import { LabrigAPIError, requestAPI, toLabrigError } from '../request';

const BASE_URL = 'http://localhost:8888/lab-base/';

type FetchMock = jest.Mock<Promise<Response>, [RequestInfo, RequestInit?]>;

function settingsWith(fetchMock: FetchMock): ServerConnection.ISettings {
  return ServerConnection.makeSettings({
    baseUrl: BASE_URL,
    fetch: fetchMock as unknown as typeof fetch
  });
}

function answer(status: number, body: string, statusText = ''): FetchMock {
  return jest.fn((_input: RequestInfo, _init?: RequestInit) =>
    Promise.resolve(new Response(status === 204 ? null : body, { status, statusText }))
  );
}

/** The URL without the cache-busting timestamp ServerConnection appends to GETs. */
function urlOf(request: Request): string {
  return request.url.replace(/[?&]\d{10,}$/, '');
}

async function rejection(promise: Promise<unknown>): Promise<LabrigAPIError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LabrigAPIError);
    return error as LabrigAPIError;
  }
  throw new Error('expected the request to fail');
}

describe('requestAPI', () => {
  it('calls labrig/api/v1 below the base URL and decodes JSON', async () => {
    const fetchMock = answer(200, JSON.stringify({ version: '0.1.0' }));
    const result = await requestAPI<{ version: string }>('status', {}, settingsWith(fetchMock));

    expect(result).toEqual({ version: '0.1.0' });
    expect(fetchMock).toHaveBeenCalledTimes(1);
    const request = fetchMock.mock.calls[0][0] as Request;
    expect(urlOf(request)).toBe('http://localhost:8888/lab-base/labrig/api/v1/status');
  });

  it('keeps the query string and sends method and body', async () => {
    const fetchMock = answer(201, JSON.stringify({ name: 'm' }));
    await requestAPI(
      'models?limit=5&page_token=a%2Fb',
      { method: 'POST', body: '{"name":"m"}' },
      settingsWith(fetchMock)
    );

    const request = fetchMock.mock.calls[0][0] as Request;
    expect(urlOf(request)).toBe(
      'http://localhost:8888/lab-base/labrig/api/v1/models?limit=5&page_token=a%2Fb'
    );
    expect(request.method).toBe('POST');
    expect(await request.text()).toBe('{"name":"m"}');
  });

  it('returns undefined for an empty answer', async () => {
    const result = await requestAPI(
      'models/x',
      { method: 'DELETE' },
      settingsWith(answer(204, ''))
    );
    expect(result).toBeUndefined();
  });

  it("throws the server's message, reason and field on a labrig error", async () => {
    const body = {
      message: 'Model names start with a letter or digit.',
      reason: 'invalid_name',
      field: 'name'
    };
    const error = await rejection(
      requestAPI(
        'models',
        { method: 'POST' },
        settingsWith(answer(400, JSON.stringify(body), 'Bad Request'))
      )
    );

    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('LabrigAPIError');
    expect(error.status).toBe(400);
    expect(error.message).toBe(body.message);
    expect(error.reason).toBe('invalid_name');
    expect(error.field).toBe('name');
  });

  it('has no field when the server names none', async () => {
    const body = { message: 'A model named "m" already exists.', reason: 'exists' };
    const error = await rejection(
      requestAPI('models', {}, settingsWith(answer(409, JSON.stringify(body))))
    );
    expect(error.status).toBe(409);
    expect(error.field).toBeUndefined();
  });

  it('gives a readable message for a non-JSON error page, never the page itself', async () => {
    const html =
      '<html><body><h1>502 Bad Gateway</h1><pre>Traceback (most recent call last)</pre></body></html>';
    const error = await rejection(
      requestAPI('jobs', {}, settingsWith(answer(502, html, 'Bad Gateway')))
    );

    expect(error.status).toBe(502);
    expect(error.reason).toBe('http_502');
    expect(error.message).toContain('502 Bad Gateway');
    expect(error.message).not.toContain('<');
    expect(error.message).not.toContain('Traceback');
  });

  it('says labrig may not be installed on a bare 404', async () => {
    const error = await rejection(
      requestAPI('status', {}, settingsWith(answer(404, 'Not Found', 'Not Found')))
    );
    expect(error.message).toMatch(/labrig is installed and enabled/);
  });

  it('does not show JSON without a message', async () => {
    const error = await rejection(
      requestAPI(
        'status',
        {},
        settingsWith(answer(500, JSON.stringify({ traceback: 'x' }), 'Internal Server Error'))
      )
    );
    expect(error.message).not.toContain('{');
    expect(error.message).toContain('500');
  });

  it('turns a network failure into a readable error', async () => {
    const fetchMock: FetchMock = jest.fn((_input: RequestInfo, _init?: RequestInit) =>
      Promise.reject(new TypeError('Failed to fetch'))
    );
    const error = await rejection(requestAPI('status', {}, settingsWith(fetchMock)));

    expect(error.status).toBe(0);
    expect(error.reason).toBe('network_error');
    expect(error.message).toMatch(/^Could not reach the Jupyter server/);
  });

  it('rejects an unreadable success body', async () => {
    const error = await rejection(requestAPI('status', {}, settingsWith(answer(200, 'not json'))));
    expect(error.reason).toBe('invalid_response');
    expect(error.message).not.toContain('not json');
  });
});

describe('toLabrigError', () => {
  it('keeps a LabrigAPIError and wraps anything else', () => {
    const original = new LabrigAPIError({ status: 409, reason: 'exists', message: 'exists' });
    expect(toLabrigError(original)).toBe(original);

    const wrapped = toLabrigError(new Error('boom'));
    expect(wrapped).toBeInstanceOf(LabrigAPIError);
    expect(wrapped.status).toBe(0);
    expect(wrapped.message).toBe('boom');
  });
});
