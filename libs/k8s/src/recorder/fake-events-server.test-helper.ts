// A fake events.k8s.io/v1 API that answers the recorder's two calls as the API
// server does: objects by namespace and name with a resourceVersion; a create
// of a name that exists is 409 AlreadyExists; a merge patch of a missing one is
// 404 NotFound (an Event expired: its TTL, see expire()); a series needs a
// count of at least 2 and a lastObservedTime (422 Invalid otherwise), on create
// and after a patch alike. Writes can be held open (hold()) to test what is in
// flight at once.
import type { EventsV1Event } from '@kubernetes/client-node';
import type { EventRecorderOptions } from './event-recorder';

const status = (code: number, reason: string, message: string) =>
  Object.assign(new Error(`HTTP-Code: ${code}\nMessage: ${message}`), { code, body: { kind: 'Status', status: 'Failure', reason, message, code } });

/** What goes on the wire: dates become strings, undefined fields vanish. */
const wire = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

export interface Request {
  verb: 'create' | 'patch';
  namespace: string;
  name: string;
  /** The answer's HTTP status. */
  code: number;
}

export class FakeEventsServer {
  readonly stored = new Map<string, EventsV1Event>();
  readonly requests: Request[] = [];
  inFlight = 0;
  mostInFlight = 0;
  private resourceVersion = 100;
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;

  /** The API the recorder is given. */
  readonly api: EventRecorderOptions['events'] = {
    createNamespacedEvent: (async (params: { namespace: string; body: EventsV1Event }) => this.create(params.namespace, wire(params.body))) as never,
    patchNamespacedEvent: (async (params: { name: string; namespace: string; body: object }) => this.patch(params.namespace, params.name, wire(params.body))) as never,
  };

  /** Events as stored, in creation order. */
  get events(): EventsV1Event[] {
    return [...this.stored.values()];
  }

  /** Writes wait until release() is called. */
  hold(): void {
    this.gate ??= new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open?.();
    this.gate = undefined;
    this.open = undefined;
  }

  /** The Event's TTL ran out: the API server deleted it. */
  expire(namespace: string, name: string): void {
    this.stored.delete(`${namespace}/${name}`);
  }

  private async enter(): Promise<void> {
    this.inFlight++;
    this.mostInFlight = Math.max(this.mostInFlight, this.inFlight);
    try {
      if (this.gate) await this.gate;
    } finally {
      this.inFlight--;
    }
  }

  private async create(namespace: string, body: EventsV1Event): Promise<EventsV1Event> {
    await this.enter();
    const name = body.metadata?.name ?? '';
    const key = `${namespace}/${name}`;
    const answer = (code: number) => this.requests.push({ verb: 'create', namespace, name, code });
    if (this.stored.has(key)) {
      answer(409);
      throw status(409, 'AlreadyExists', `events.events.k8s.io "${name}" already exists`);
    }
    const invalid = invalidSeries(body.series);
    if (invalid) {
      answer(422);
      throw status(422, 'Invalid', invalid);
    }
    answer(201);
    const stored: EventsV1Event = { ...body, metadata: { ...body.metadata, namespace, resourceVersion: String(++this.resourceVersion) } };
    this.stored.set(key, stored);
    return stored;
  }

  private async patch(namespace: string, name: string, body: object): Promise<EventsV1Event> {
    await this.enter();
    const key = `${namespace}/${name}`;
    const live = this.stored.get(key);
    if (!live) {
      this.requests.push({ verb: 'patch', namespace, name, code: 404 });
      throw status(404, 'NotFound', `events.events.k8s.io "${name}" not found`);
    }
    const merged = mergePatch(live, body);
    const invalid = invalidSeries(merged.series);
    if (invalid) {
      this.requests.push({ verb: 'patch', namespace, name, code: 422 });
      throw status(422, 'Invalid', invalid);
    }
    this.requests.push({ verb: 'patch', namespace, name, code: 200 });
    merged.metadata = { ...merged.metadata, resourceVersion: String(++this.resourceVersion) };
    this.stored.set(key, merged);
    return merged;
  }
}

/** events.k8s.io/v1 validation of a series, as the API server has it. */
function invalidSeries(series: EventsV1Event['series']): string | undefined {
  if (series === undefined) return undefined;
  if (!(series.count >= 2)) return 'series.count: Invalid value: should be at least 2';
  if (!series.lastObservedTime) return 'series.lastObservedTime: Required value';
  return undefined;
}

/**
 * A JSON merge patch as far as the recorder sends one (`series`): top-level
 * objects merge key by key, null removes; the generic RFC 7386 is in
 * libs/expose's fakes, which this library may not import.
 */
function mergePatch(live: EventsV1Event, patch: object): EventsV1Event {
  const out: Record<string, unknown> = { ...live };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (typeof v === 'object' && !Array.isArray(v) && typeof out[k] === 'object' && out[k] !== null) out[k] = { ...(out[k] as object), ...v };
    else out[k] = v;
  }
  return out as unknown as EventsV1Event;
}
