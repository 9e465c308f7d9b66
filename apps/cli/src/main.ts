// ekspose's CLI: `ekspose status` (also `kubectl ekspose status`, as a kubectl
// plugin) prints one row per Deployment: how it is exposed, its URL and its state.
import { KubeConfig } from '@kubernetes/client-node';
import { createKubeClients, describeError, loadKubeConfig } from '@ekspose/k8s';
import { USAGE, parseStatusArgs } from './args';
import { formatTable, readStatus } from './status';

function fail(message: string): never {
  process.stderr.write(`ekspose: ${message}\n`);
  process.exit(1);
}

let args;
try {
  args = parseStatusArgs(process.argv.slice(2));
} catch (err) {
  fail(`${(err as Error).message}\nRun 'ekspose --help' for usage.`);
}
if (args.command === 'help') {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (args.kubeconfig) process.env.KUBECONFIG = args.kubeconfig;
let config: KubeConfig;
try {
  config = loadKubeConfig();
  if (args.context) config.setCurrentContext(args.context);
  if (args.context && !config.getCurrentCluster()) fail(`no cluster for context ${args.context}`);
} catch (err) {
  fail((err as Error).message);
}
const namespace = args.allNamespaces ? undefined : (args.namespace ?? config.getContextObject(config.getCurrentContext())?.namespace ?? 'default');
try {
  const rows = await readStatus(createKubeClients(config), namespace);
  process.stdout.write(args.output === 'json' ? `${JSON.stringify(rows, null, 2)}\n` : formatTable(rows, args.allNamespaces));
} catch (err) {
  fail(`cannot read the cluster (${config.getCurrentCluster()?.server}): ${describeError(err)}`);
}
