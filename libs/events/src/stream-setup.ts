// Makes sure the EKSPOSE stream exists with the settings ekspose relies on:
// created when missing, only the drifted settings updated otherwise, nothing
// written when nothing drifted. Two controllers starting together are fine.
// A NATS server with no cluster configured can hold one copy only: asked for
// more, the stream gets one and the log says why, so one settings file serves
// both setups. A node of a cluster never falls back: one that restarts and
// answers before its routes are up would otherwise make a one-copy stream of
// its own; its "not supported" is an error, retried until it has rejoined.
import { jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { type DesiredStreamConfig, desiredStreamConfig, streamConfigUpdate } from './jetstream-config';
import { errorText, isReplicasUnsupported, isStreamNotFound } from './nats-errors';
import { STREAM_NAME } from './subjects';

export const API_TIMEOUT_MS = 5000;

export interface EnsureStreamOptions {
  /** Update drifted settings; when false a drift is only logged (the caller may not update). Default true. */
  update?: boolean;
  /** Copies of the stream in a JetStream cluster. Default 1. */
  replicas?: number;
}

export async function ensureStream(nc: NatsConnection, maxAgeSeconds: number, log: Logger, opts: EnsureStreamOptions = {}): Promise<void> {
  const jsm = await jetstreamManager(nc, { timeout: API_TIMEOUT_MS, checkAPI: false });
  const update = opts.update ?? true;
  const desired = desiredStreamConfig(maxAgeSeconds, opts.replicas ?? 1);
  // The server's INFO names its cluster whenever one is configured, even before its routes are up.
  const standalone = nc.info?.cluster === undefined;
  try {
    await updateStream(jsm, desired, log, update, standalone);
  } catch (err) {
    if (!isStreamNotFound(err)) throw err;
    try {
      await addStream(jsm, desired, log, standalone);
    } catch (addErr) {
      // Another controller created it between our look and our add.
      if (!/already in use/i.test(errorText(addErr))) throw addErr;
      await updateStream(jsm, desired, log, update, standalone);
    }
  }
}

function unclustered(desired: DesiredStreamConfig, log: Logger): DesiredStreamConfig {
  log.warn(
    { stream: STREAM_NAME, wanted: desired.num_replicas },
    'NATS is not clustered: the stream keeps one copy (set NATS_STREAM_REPLICAS=1 to say so)',
  );
  return { ...desired, num_replicas: 1 };
}

async function addStream(jsm: JetStreamManager, desired: DesiredStreamConfig, log: Logger, standalone: boolean): Promise<void> {
  let config = desired;
  try {
    await jsm.streams.add({ ...config });
  } catch (err) {
    if (!isReplicasUnsupported(err) || config.num_replicas === 1 || !standalone) throw err;
    config = unclustered(config, log);
    await jsm.streams.add({ ...config });
  }
  log.info({ stream: STREAM_NAME, maxAgeSeconds: config.max_age / 1e9, replicas: config.num_replicas }, 'stream created');
}

async function updateStream(jsm: JetStreamManager, desired: DesiredStreamConfig, log: Logger, mayUpdate: boolean, standalone: boolean): Promise<void> {
  const info = await jsm.streams.info(STREAM_NAME);
  const update = streamConfigUpdate(info.config, desired);
  if (Object.keys(update).length > 0 && !mayUpdate) {
    log.info({ stream: STREAM_NAME, drifted: Object.keys(update) }, 'stream settings differ from ours; the deployment-controller updates them');
  } else if (Object.keys(update).length > 0) {
    let applied = update;
    try {
      await jsm.streams.update(STREAM_NAME, update);
    } catch (err) {
      if (!isReplicasUnsupported(err) || update.num_replicas === undefined || !standalone) throw err;
      applied = streamConfigUpdate(info.config, unclustered(desired, log));
      if (Object.keys(applied).length > 0) await jsm.streams.update(STREAM_NAME, applied);
    }
    if (Object.keys(applied).length > 0) log.info({ stream: STREAM_NAME, changed: Object.keys(applied) }, 'stream settings updated');
  }
  if (info.config.storage !== desired.storage) {
    log.warn({ stream: STREAM_NAME, storage: info.config.storage }, 'stream is not on file storage; events do not survive a NATS restart');
  }
}
