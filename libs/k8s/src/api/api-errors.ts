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
  message ??= messageOf(err);
  return code ? `HTTP ${code}: ${message}` : message ?? 'unknown error';
}

/**
 * An error's first line with those of its causes: client-node 2.x fetches with
 * undici, whose network errors say only "fetch failed" and keep the reason
 * ("connect ECONNREFUSED 10.0.0.1:6443") in `cause`.
 */
export function messageOf(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    // An AggregateError (one per address tried) may have an empty message of its own.
    const first = e instanceof AggregateError && !e.message ? e.errors[0] : e;
    const line = (first instanceof Error ? first.message : String(first)).split('\n')[0]!;
    if (line && !parts.includes(line)) parts.push(line);
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(': ') || 'unknown error';
}
