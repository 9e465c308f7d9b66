// A validating admission webhook served by the test process: the API server
// calls it (HTTPS on 127.0.0.1, the plane's own serving certificate, its CA in
// the caBundle) for the requests its ValidatingWebhookConfiguration selects,
// and it answers "allowed" after a delay the test chooses, or once the test
// releases the request. Slow etcd, a slow Lease renewal, a write held in flight
// at the server: a real request to the real API server, only late. It records
// every request it was asked about (when it arrived, what it was), so it also
// serves as a witness of who wrote what when.
import { readFileSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { type Server, createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ControlPlane } from '@ekspose/testing';

/** One admission request the webhook was asked about. */
export interface AdmittedRequest {
  /** Date.now() when the webhook received it (before any hold). */
  at: number;
  /** Date.now() when it was answered, once it was. */
  answeredAt?: number;
  operation: string;
  resource: string;
  namespace?: string;
  name?: string;
  /** The request's user (userInfo.username). */
  user?: string;
  /** The object (or the old one for a DELETE) as the API server sent it. */
  object?: { metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> } };
}

/**
 * How long to hold a request: milliseconds, or a promise settled when the test
 * lets it go. Zero answers at once (a pure witness).
 */
export type Hold = number | Promise<unknown>;

export interface SlowWebhookOptions {
  /** The ValidatingWebhookConfiguration's name (and the webhook's, `<name>.ekspose.test`). */
  name: string;
  rules: ReadonlyArray<{ apiGroups: string[]; apiVersions: string[]; operations: string[]; resources: string[]; scope?: string }>;
  objectSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: { matchLabels?: Record<string, string> };
  /** CEL conditions, all of which must hold for the webhook to be called (e.g. `object.metadata.name == '…'`). */
  matchConditions?: ReadonlyArray<{ name: string; expression: string }>;
  /** Default Ignore: the webhook never makes a request fail, it only makes it late. */
  failurePolicy?: 'Ignore' | 'Fail';
  /** Default 30 (the API server's maximum); must exceed every hold. */
  timeoutSeconds?: number;
  /** The hold for each request; may be changed later with setHold. Default 0. */
  hold?: Hold | ((req: AdmittedRequest) => Hold);
}

export class SlowWebhook {
  readonly requests: AdmittedRequest[] = [];
  private hold: (req: AdmittedRequest) => Hold;
  private readonly pending = new Set<() => void>();

  constructor(
    private readonly plane: ControlPlane,
    private readonly server: Server,
    readonly name: string,
    hold: SlowWebhookOptions['hold'],
  ) {
    this.hold = toHoldFn(hold);
  }

  /** Changes the hold of requests from now on (requests already held keep theirs). */
  setHold(hold: SlowWebhookOptions['hold']): void {
    this.hold = toHoldFn(hold);
  }

  /** Answers every request held now, at once. */
  releaseAll(): void {
    for (const release of [...this.pending]) release();
  }

  /** Requests currently held (received, not answered). */
  get held(): number {
    return this.pending.size;
  }

  /** Removes the configuration, answers whatever is held, and stops serving. */
  async close(): Promise<void> {
    await this.plane.kubectl(['delete', 'validatingwebhookconfiguration', this.name, '--ignore-not-found']);
    this.releaseAll();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** @internal */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { request: AdmissionRequest };
    const r = review.request;
    const seen: AdmittedRequest = {
      at: Date.now(),
      operation: r.operation,
      resource: `${r.resource.group ? `${r.resource.group}/` : ''}${r.resource.resource}`,
      namespace: r.namespace,
      name: r.name,
      user: r.userInfo?.username,
      object: r.object ?? r.oldObject,
    };
    this.requests.push(seen);
    const hold = this.hold(seen);
    await new Promise<void>((resolve) => {
      const release = () => {
        this.pending.delete(release);
        clearTimeout(timer);
        resolve();
      };
      const timer = typeof hold === 'number' ? setTimeout(release, hold) : undefined;
      if (typeof hold !== 'number') void hold.then(release, release);
      this.pending.add(release);
    });
    seen.answeredAt = Date.now();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: r.uid, allowed: true } }));
  }
}

interface AdmissionRequest {
  uid: string;
  operation: string;
  resource: { group: string; resource: string };
  namespace?: string;
  name?: string;
  userInfo?: { username?: string };
  object?: AdmittedRequest['object'];
  oldObject?: AdmittedRequest['object'];
}

function toHoldFn(hold: SlowWebhookOptions['hold']): (req: AdmittedRequest) => Hold {
  if (typeof hold === 'function') return hold;
  return () => hold ?? 0;
}

/**
 * Serves the webhook and registers it with the plane. The configuration is in
 * force a moment after this returns (the API server reads it through a watch):
 * wait for the first request you expect in `requests`.
 */
export async function startSlowWebhook(plane: ControlPlane, opts: SlowWebhookOptions): Promise<SlowWebhook> {
  const certs = plane.certificates;
  if (!certs) throw new Error('the plane has no certificates yet');
  const ref: { hook?: SlowWebhook } = {};
  const server = createServer({ cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) }, (req, res) => {
    ref.hook!.handle(req, res).catch(() => {
      res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const hook = new SlowWebhook(plane, server, opts.name, opts.hold);
  ref.hook = hook;
  const port = (server.address() as AddressInfo).port;
  const config = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: opts.name },
    webhooks: [
      {
        name: `${opts.name}.ekspose.test`,
        clientConfig: { url: `https://127.0.0.1:${port}/validate`, caBundle: readFileSync(certs.caCert).toString('base64') },
        rules: opts.rules,
        ...(opts.objectSelector ? { objectSelector: opts.objectSelector } : {}),
        ...(opts.namespaceSelector ? { namespaceSelector: opts.namespaceSelector } : {}),
        ...(opts.matchConditions ? { matchConditions: opts.matchConditions } : {}),
        failurePolicy: opts.failurePolicy ?? 'Ignore',
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        timeoutSeconds: opts.timeoutSeconds ?? 30,
      },
    ],
  };
  const applied = await plane.kubectl(['apply', '-f', '-'], { input: JSON.stringify(config) });
  if (applied.code !== 0) {
    server.close();
    throw new Error(`the webhook configuration ${opts.name} was refused: ${applied.stderr}`);
  }
  return hook;
}
