// The `ekspose` CLI as a user runs it (bin/ekspose.mjs, or `kubectl ekspose`
// when `extraPath` holds kubectl), against the plane with its admin kubeconfig.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { ExposureStatus } from '@ekspose/expose';
import { type ControlPlane, runCaptured, workspaceRoot } from '@ekspose/testing';

export async function ekspose(plane: ControlPlane, args: string[], extraPath = '') {
  const bin = join(workspaceRoot(), 'bin');
  return runCaptured(extraPath ? 'kubectl' : process.execPath, extraPath ? ['ekspose', ...args] : [join(bin, 'ekspose.mjs'), ...args], {
    timeoutMs: 60_000,
    env: { PATH: `${extraPath ? `${bin}:${extraPath}:` : ''}${process.env.PATH}`, HOME: process.env.HOME ?? '/nonexistent', KUBECONFIG: plane.kubeconfigPath },
  });
}

/** `ekspose status -o json` (in `namespace` by default): its rows; anything but exit code 0 fails. */
export async function statusRows(plane: ControlPlane, args: string[]): Promise<ExposureStatus[]> {
  const run = await ekspose(plane, args);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as ExposureStatus[];
}
