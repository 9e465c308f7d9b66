// How NATS and JetStream failures are told apart. Pure.
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function isStreamNotFound(err: unknown): boolean {
  return (
    (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) ||
    errorText(err) === 'stream not found'
  );
}

/** The server runs JetStream alone (not clustered), so a stream can have one replica only. */
export function isReplicasUnsupported(err: unknown): boolean {
  return /replicas > 1 not supported in non-clustered mode/i.test(errorText(err));
}

/** JetStream answers no one: the stream is gone (or JetStream is off) even though the link is up. */
export function isNoResponders(err: unknown): boolean {
  return /no responders|jetstream is not enabled/i.test(errorText(err));
}

/** The stream has to be checked again: it vanished, or JetStream stopped answering for it. */
export function isStreamLost(err: unknown): boolean {
  return isStreamNotFound(err) || isNoResponders(err);
}

/** The request's connection was closed or drained under it (a move off a lame-duck server, the link closing). */
export function isConnectionClosed(err: unknown): boolean {
  return /connection closed|closed connection|connection draining/i.test(errorText(err));
}
