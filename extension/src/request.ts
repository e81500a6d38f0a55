/**
 * The one seam between the labrig frontend and the labrig REST API.
 *
 * Every call to the server goes through `requestAPI`, so tests mock this
 * module and the UI never sees raw responses, JSON bodies or stack traces:
 * failures become a `LabrigAPIError` whose `message` is written for people.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/**
 * The path of the labrig REST API below the server's base URL.
 */
export const API_PATH = 'labrig/api/v1';

/**
 * The JSON body of a labrig error response.
 */
export interface IErrorBody {
  message: string;
  reason: string;
  field?: string;
}

/**
 * An error from the labrig API with a message that can be shown as is.
 */
export class LabrigAPIError extends Error {
  /**
   * @param options - What went wrong. `status` is the HTTP status, or 0 when
   * the server could not be reached or answered something unreadable.
   */
  constructor(options: LabrigAPIError.IOptions) {
    super(options.message);
    this.name = 'LabrigAPIError';
    this.status = options.status;
    this.reason = options.reason;
    this.field = options.field;
  }

  /**
   * The HTTP status code; 0 when no HTTP answer was received.
   */
  readonly status: number;

  /**
   * A short machine-readable code, e.g. `invalid_name` or `network_error`.
   */
  readonly reason: string;

  /**
   * The input that was wrong, when the server named one.
   */
  readonly field?: string;
}

export namespace LabrigAPIError {
  export interface IOptions {
    message: string;
    status: number;
    reason: string;
    field?: string;
  }
}

/**
 * Turn anything thrown by a request into a `LabrigAPIError`.
 */
export function toLabrigError(error: unknown): LabrigAPIError {
  if (error instanceof LabrigAPIError) {
    return error;
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new LabrigAPIError({
    status: 0,
    reason: 'client_error',
    message: detail || 'Something went wrong in the labrig panel.'
  });
}

/**
 * Call the labrig REST API.
 *
 * @param endPoint - Path below `labrig/api/v1`, e.g. `models?limit=50`.
 * @param init - Fetch options (method, body, ...).
 * @param settings - Server connection settings; the default ones when omitted.
 * @returns The decoded JSON body, or `undefined` for an empty (204) answer.
 * @throws {LabrigAPIError} On network failure, a non-2xx status or an unreadable body.
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_PATH, endPoint);

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    const detail = error instanceof Error && error.message ? ` (${error.message})` : '';
    throw new LabrigAPIError({
      status: 0,
      reason: 'network_error',
      message: `Could not reach the Jupyter server${detail}. Check that it is still running and that you are online.`
    });
  }

  let text = '';
  try {
    text = await response.text();
  } catch {
    text = '';
  }

  if (!response.ok) {
    throw errorFromResponse(response, text);
  }

  if (text.length === 0) {
    return undefined as T;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new LabrigAPIError({
      status: response.status,
      reason: 'invalid_response',
      message:
        'The labrig server sent an answer the panel could not read. Try again, or check the Jupyter server log.'
    });
  }
}

/**
 * Build the error for a non-2xx response from its status and body text.
 */
function errorFromResponse(response: Response, text: string): LabrigAPIError {
  const status = response.status;
  let body: Partial<IErrorBody> | null = null;
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      body = parsed as Partial<IErrorBody>;
    }
  } catch {
    body = null;
  }

  const message =
    body && typeof body.message === 'string' && body.message.trim()
      ? body.message.trim()
      : fallbackMessage(status, response.statusText);
  const reason =
    body && typeof body.reason === 'string' && body.reason ? body.reason : `http_${status}`;
  const field = body && typeof body.field === 'string' && body.field ? body.field : undefined;
  return new LabrigAPIError({ status, reason, message, field });
}

/**
 * A readable message for an error response without a labrig JSON body.
 */
function fallbackMessage(status: number, statusText: string): string {
  const code = statusText ? `${status} ${statusText}` : `${status}`;
  switch (status) {
    case 401:
    case 403:
      return `The Jupyter server refused the request (${code}). Your session may have expired: reload the page and log in again.`;
    case 404:
      return `The labrig server extension did not answer (${code}). Check that labrig is installed and enabled on this Jupyter server.`;
    case 502:
    case 503:
    case 504:
      return `The Jupyter server is not available right now (${code}). Try again in a moment.`;
    default:
      if (status >= 500) {
        return `The labrig server failed (${code}). The Jupyter server log has the details.`;
      }
      return `The labrig server rejected the request (${code}).`;
  }
}
