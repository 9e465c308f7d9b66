// API errors as the controllers need to tell them apart. Pure.

/** The HTTP status of a client error, if it has one (ApiException has .code). */
export function statusCodeOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown } | undefined;
  if (typeof e?.code === 'number') return e.code;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  return undefined;
}

export const isNotFound = (err: unknown) => statusCodeOf(err) === 404;
export const isConflict = (err: unknown) => statusCodeOf(err) === 409;

/** A short, loggable description of a client error (ApiException bodies are large). */
export function describeError(err: unknown): string {
  const code = statusCodeOf(err);
  const body = (err as { body?: unknown })?.body;
  let message: string | undefined;
  if (typeof body === 'string') {
    try {
      message = (JSON.parse(body) as { message?: string }).message;
    } catch {
      message = body.slice(0, 300);
    }
  } else if (body && typeof body === 'object') {
    message = (body as { message?: string }).message;
  }
  message ??= err instanceof Error ? err.message.split('\n')[0] : String(err);
  return code ? `HTTP ${code}: ${message}` : message ?? 'unknown error';
}
