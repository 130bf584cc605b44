import { env } from '@/config/env';
import { readStoredToken } from '@/lib/session-storage';

/** One field-level complaint from a 400/422 problem response. */
export type FieldError = { field: string; message: string };

/**
 * Where an ApiError came from: a problem+json body, another HTTP failure (plain text, HTML
 * from a proxy), no HTTP answer at all, or a success status with a body we cannot use.
 */
export type ApiErrorKind = 'problem' | 'http' | 'network' | 'invalid-response';

type ApiErrorInit = {
  kind: ApiErrorKind;
  status: number;
  title: string;
  detail?: string | null;
  type?: string | null;
  instance?: string | null;
  fieldErrors?: readonly FieldError[];
  cause?: unknown;
};

/** The single error type every API call rejects with (except for aborts, which stay AbortErrors). */
export class ApiError extends Error {
  readonly kind: ApiErrorKind;
  /** HTTP status; 0 when no response arrived. */
  readonly status: number;
  readonly title: string;
  readonly detail: string | null;
  /** The problem `type` URI, stable per error kind on the service side. */
  readonly type: string | null;
  readonly instance: string | null;
  readonly fieldErrors: readonly FieldError[];

  constructor(init: ApiErrorInit) {
    super(init.detail ? `${init.title}: ${init.detail}` : init.title, { cause: init.cause });
    this.name = 'ApiError';
    this.kind = init.kind;
    this.status = init.status;
    this.title = init.title;
    this.detail = init.detail ?? null;
    this.type = init.type ?? null;
    this.instance = init.instance ?? null;
    this.fieldErrors = init.fieldErrors ?? [];
  }
}

export function isApiError(error: unknown): error is ApiError {
  return error instanceof ApiError;
}

// HTTP/2 responses carry no reason phrase, so statusText is often empty: name the ones we use.
const statusTitles: Record<number, string> = {
  400: 'Bad request',
  401: 'Not signed in',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict',
  412: 'Precondition failed',
  422: 'Unprocessable request',
  429: 'Too many requests',
  500: 'Internal server error',
  502: 'Bad gateway',
  503: 'Service unavailable',
  504: 'Gateway timeout',
};

function titleForStatus(status: number, statusText: string): string {
  return statusTitles[status] ?? (statusText || `HTTP ${status}`);
}

const maxTextDetail = 500;

function isJsonContentType(contentType: string): boolean {
  const mediaType = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return mediaType === 'application/json' || mediaType.endsWith('+json');
}

function asString(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

function asFieldErrors(value: unknown): FieldError[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item: unknown) => {
    if (typeof item !== 'object' || item === null) return [];
    const { field, message } = item as Record<string, unknown>;
    const text = asString(message);
    return text ? [{ field: asString(field) ?? '', message: text }] : [];
  });
}

async function errorFromResponse(response: Response): Promise<ApiError> {
  const fallbackTitle = titleForStatus(response.status, response.statusText);
  const contentType = response.headers.get('content-type') ?? '';
  let body = '';
  try {
    body = await response.text();
  } catch (cause) {
    return new ApiError({ kind: 'http', status: response.status, title: fallbackTitle, cause });
  }

  if (isJsonContentType(contentType)) {
    try {
      const problem: unknown = JSON.parse(body);
      if (typeof problem === 'object' && problem !== null && !Array.isArray(problem)) {
        const p = problem as Record<string, unknown>;
        return new ApiError({
          kind: 'problem',
          status: response.status,
          title: asString(p.title) ?? fallbackTitle,
          detail: asString(p.detail),
          type: asString(p.type),
          instance: asString(p.instance),
          fieldErrors: asFieldErrors(p.errors),
        });
      }
    } catch {
      // Not JSON after all: fall through and treat it as text.
    }
  }

  const text = body.trim();
  const looksLikeHtml = contentType.toLowerCase().includes('html') || text.startsWith('<');
  let detail: string | null;
  if (text === '') {
    detail = `The service answered ${response.status} with no explanation.`;
  } else if (looksLikeHtml) {
    // An HTML page here comes from a proxy or a default error page; its markup helps nobody.
    detail = `The service answered ${response.status} with an HTML page instead of an API error.`;
  } else {
    detail = text.length > maxTextDetail ? `${text.slice(0, maxTextDetail)}…` : text;
  }
  return new ApiError({ kind: 'http', status: response.status, title: fallbackTitle, detail });
}

export type RequestOptions = {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  signal?: AbortSignal;
  /**
   * Bearer token to send. Left out, the signed-in session's token is used; pass a token to
   * check one before it becomes the session's (sign-in), or null to send none.
   */
  token?: string | null;
  /** Extra request headers, e.g. If-Match. */
  headers?: Record<string, string>;
  /** Content type of the body; JSON unless said otherwise (e.g. application/merge-patch+json). */
  contentType?: string;
};

/** A successful answer with the headers a caller may need: ETag for If-Match, Location. */
export type ApiResponse<T> = { data: T; status: number; etag: string | null; location: string | null };

function isAbort(error: unknown, signal: AbortSignal | undefined): boolean {
  return (
    signal?.aborted === true || (error instanceof DOMException && error.name === 'AbortError')
  );
}

/** Calls the Faultline service and returns the parsed JSON body, or rejects with an ApiError. */
export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  return (await requestWithResponse<T>(path, options)).data;
}

/** Like request(), but also returns the status, ETag and Location of the answer. */
export async function requestWithResponse<T>(path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
  const { method = 'GET', body, signal } = options;
  const token = options.token === undefined ? readStoredToken() : options.token;

  const headers = new Headers({ Accept: 'application/json, application/problem+json' });
  if (token) headers.set('Authorization', `Bearer ${token}`);
  if (body !== undefined) headers.set('Content-Type', options.contentType ?? 'application/json');
  for (const [name, value] of Object.entries(options.headers ?? {})) headers.set(name, value);

  // Absolute URL: the same code runs in the browser and under Node's fetch in tests.
  const url = new URL(`${env.apiBaseUrl}${path}`, window.location.href);

  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (cause) {
    if (isAbort(cause, signal)) throw cause;
    throw new ApiError({
      kind: 'network',
      status: 0,
      title: 'Cannot reach the Faultline service',
      detail: 'The request got no answer. Check that the service is running and reachable.',
      cause,
    });
  }

  if (!response.ok) throw await errorFromResponse(response);

  const meta = {
    status: response.status,
    etag: response.headers.get('ETag'),
    location: response.headers.get('Location'),
  };
  if (response.status === 204) return { ...meta, data: undefined as T };
  const text = await response.text();
  if (text === '') return { ...meta, data: undefined as T };
  try {
    return { ...meta, data: JSON.parse(text) as T };
  } catch (cause) {
    throw new ApiError({
      kind: 'invalid-response',
      status: response.status,
      title: 'Unexpected answer from the service',
      detail: `Expected JSON from ${method} ${path} but got something else.`,
      cause,
    });
  }
}

export const apiClient = {
  get: <T>(path: string, options?: Omit<RequestOptions, 'method' | 'body'>) =>
    request<T>(path, { ...options, method: 'GET' }),
  post: <T>(path: string, body?: unknown, options?: Omit<RequestOptions, 'method' | 'body'>) =>
    request<T>(path, { ...options, method: 'POST', body }),
  put: <T>(path: string, body?: unknown, options?: Omit<RequestOptions, 'method' | 'body'>) =>
    request<T>(path, { ...options, method: 'PUT', body }),
  patch: <T>(path: string, body?: unknown, options?: Omit<RequestOptions, 'method' | 'body'>) =>
    request<T>(path, { ...options, method: 'PATCH', body }),
  delete: <T>(path: string, options?: Omit<RequestOptions, 'method' | 'body'>) =>
    request<T>(path, { ...options, method: 'DELETE' }),
};

const problemBase = 'https://faultline.dev/problems/';

/** Whether an error is the service's problem of this kind (the part of `type` after .../problems/). */
export function isProblem(error: unknown, slug: string): error is ApiError {
  return isApiError(error) && error.type === `${problemBase}${slug}`;
}

/**
 * The service's complaint about one field, to show next to that field: a field error from a
 * validation problem (`retention.maxAge` matches field `retention.maxAge`), or a problem whose
 * detail names the field the way the service's parsers do ("selector: at position 9: …").
 */
export function fieldErrorOf(error: unknown, field: string): string | null {
  if (!isApiError(error)) return null;
  const own = error.fieldErrors.filter((fieldError) => fieldError.field === field);
  if (own.length > 0) return own.map((fieldError) => fieldError.message).join('; ');
  if (error.status === 400 && error.detail?.startsWith(`${field}: `)) {
    return error.detail.slice(field.length + 2);
  }
  return null;
}

/** Whether an error is fully explained by messages shown next to these fields. */
export function onlyFieldErrors(error: unknown, fields: readonly string[]): boolean {
  if (!isApiError(error) || error.status !== 400) return false;
  if (error.fieldErrors.length > 0) return error.fieldErrors.every((e) => fields.includes(e.field));
  return fields.some((field) => error.detail?.startsWith(`${field}: `));
}
