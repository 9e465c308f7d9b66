// Makes sure the EKSPOSE stream exists with the settings ekspose relies on:
// created when missing, only the drifted settings updated otherwise, nothing
// written when nothing drifted. Two controllers starting together are fine.
import { jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { desiredStreamConfig, streamConfigUpdate } from './jetstream-config';
import { errorText, isStreamNotFound } from './nats-errors';
import { STREAM_NAME } from './subjects';

export const API_TIMEOUT_MS = 5000;

export async function ensureStream(nc: NatsConnection, maxAgeSeconds: number, log: Logger): Promise<void> {
  const jsm = await jetstreamManager(nc, { timeout: API_TIMEOUT_MS, checkAPI: false });
  try {
    await updateStream(jsm, maxAgeSeconds, log);
  } catch (err) {
    if (!isStreamNotFound(err)) throw err;
    try {
      await jsm.streams.add({ ...desiredStreamConfig(maxAgeSeconds) });
      log.info({ stream: STREAM_NAME, maxAgeSeconds }, 'stream created');
    } catch (addErr) {
      // Another controller created it between our look and our add.
      if (!/already in use/i.test(errorText(addErr))) throw addErr;
      await updateStream(jsm, maxAgeSeconds, log);
    }
  }
}

async function updateStream(jsm: JetStreamManager, maxAgeSeconds: number, log: Logger): Promise<void> {
  const info = await jsm.streams.info(STREAM_NAME);
  const desired = desiredStreamConfig(maxAgeSeconds);
  const update = streamConfigUpdate(info.config, desired);
  if (Object.keys(update).length > 0) {
    await jsm.streams.update(STREAM_NAME, update);
    log.info({ stream: STREAM_NAME, changed: Object.keys(update) }, 'stream settings updated');
  }
  if (info.config.storage !== desired.storage) {
    log.warn({ stream: STREAM_NAME, storage: info.config.storage }, 'stream is not on file storage; events do not survive a NATS restart');
  }
}
