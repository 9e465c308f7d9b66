// The Gateway API standard-channel CRDs for the local plane: fetched from the Go
// module sigs.k8s.io/gateway-api by tools/gateway-api/fetch.sh (cached next to
// the control-plane binaries) and installed with a server-side apply.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { workspaceRoot } from './binaries';
import { runCaptured } from './run-captured';

/** The folder of CRD files, fetched first when needed. */
export async function ensureGatewayApiCrds(): Promise<string> {
  const script = join(workspaceRoot(), 'tools', 'gateway-api', 'fetch.sh');
  const result = await runCaptured('bash', [script], { timeoutMs: 300_000 });
  if (result.code !== 0) throw new Error(`fetching the Gateway API CRDs failed (${script} exited with ${result.code}):\n${result.stderr}`);
  const dir = result.stdout.trimEnd().split('\n').pop()?.trim() ?? '';
  const files = dir ? readdirSync(dir).filter((f) => f.endsWith('.yaml')) : [];
  if (!files.includes('gateway.networking.k8s.io_httproutes.yaml')) throw new Error(`${script} printed "${dir}", which holds no HTTPRoute CRD`);
  return dir;
}
