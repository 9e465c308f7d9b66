// Who may read /metrics: the bearer token's owner, as the API server knows
// it (TokenReview), if the API server's authorizer lets it `get` the
// non-resource URL /metrics (SubjectAccessReview). The same filter
// controller-runtime puts in front of its metrics; a scraper needs the
// ClusterRole ekspose-metrics-reader. Answers are cached briefly by a hash of
// the token, so a 15 s scrape costs two API calls a minute, not eight.
import { createHash } from 'node:crypto';
import { AuthenticationV1Api, AuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type Clock, realClock } from '../base/clock';
import { LruCache } from '../base/lru-cache';

export type MetricsDecision = { status: 200; user: string } | { status: 401 | 403; reason: string } | { status: 500; reason: string };

export interface ReviewedUser {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** The two questions asked of the API server; the real ones are {@link apiServerReviews}. */
export interface AccessReviews {
  /** The token's user, or undefined when the API server does not accept the token. */
  authenticate(token: string): Promise<ReviewedUser | undefined>;
  /** Whether the user may `verb` the non-resource `path`. */
  authorize(user: ReviewedUser, path: string, verb: string): Promise<boolean>;
}

export function apiServerReviews(config: KubeConfig): AccessReviews {
  const authn = config.makeApiClient(AuthenticationV1Api);
  const authz = config.makeApiClient(AuthorizationV1Api);
  return {
    async authenticate(token) {
      const review = await authn.createTokenReview({ body: { spec: { token } } });
      const user = review.status?.user;
      if (!review.status?.authenticated || !user?.username) return undefined;
      return {
        username: user.username,
        ...(user.uid ? { uid: user.uid } : {}),
        ...(user.groups ? { groups: user.groups } : {}),
        ...(user.extra ? { extra: user.extra } : {}),
      };
    },
    async authorize(user, path, verb) {
      const review = await authz.createSubjectAccessReview({
        body: { spec: { user: user.username, uid: user.uid, groups: user.groups, extra: user.extra, nonResourceAttributes: { path, verb } } },
      });
      return review.status?.allowed === true;
    },
  };
}

export interface MetricsAuthorizerOptions {
  reviews: AccessReviews;
  log: Logger;
  clock?: Clock;
  /** How long an allowed token is trusted without asking again. Default 60 s. */
  allowTtlMs?: number;
  /** How long a refused token is refused without asking again. Default 10 s. */
  denyTtlMs?: number;
}

interface Cached {
  decision: MetricsDecision;
  until: number;
}

export class MetricsAuthorizer {
  private readonly cache = new LruCache<Cached>({ capacity: 256 });
  private readonly clock: Clock;

  constructor(private readonly opts: MetricsAuthorizerOptions) {
    this.clock = opts.clock ?? realClock;
  }

  /** The decision for a request's Authorization header on `path`. Never throws. */
  async decide(authorization: string | undefined, path: string): Promise<MetricsDecision> {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (!token) return { status: 401, reason: 'a bearer token is required (Authorization: Bearer <token>)' };
    const key = `${path} ${createHash('sha256').update(token).digest('hex')}`;
    const cached = this.cache.get(key);
    if (cached && cached.until > this.clock.now()) return cached.decision;
    let decision: MetricsDecision;
    try {
      const user = await this.opts.reviews.authenticate(token);
      if (!user) decision = { status: 401, reason: 'the API server does not accept this token' };
      else if (await this.opts.reviews.authorize(user, path, 'get')) decision = { status: 200, user: user.username };
      else decision = { status: 403, reason: `${user.username} may not get ${path} (bind it to the ClusterRole ekspose-metrics-reader)` };
    } catch (err) {
      // Not cached: the next scrape asks again.
      const reason = `cannot review the token with the API server: ${err instanceof Error ? err.message : String(err)}`;
      this.opts.log.warn({ path, error: reason }, 'metrics request not authorized');
      return { status: 500, reason };
    }
    const ttl = decision.status === 200 ? (this.opts.allowTtlMs ?? 60_000) : (this.opts.denyTtlMs ?? 10_000);
    this.cache.set(key, { decision, until: this.clock.now() + ttl });
    if (decision.status !== 200) this.opts.log.debug({ path, status: decision.status, reason: decision.reason }, 'metrics request refused');
    return decision;
  }
}
