// The command line of `ekspose status`, as kubectl spells its flags.
export interface StatusArgs {
  command: 'status' | 'help';
  namespace?: string;
  allNamespaces: boolean;
  output: 'table' | 'json';
  kubeconfig?: string;
  context?: string;
}

export const USAGE = `ekspose: what ekspose exposes, and how it is doing.

Usage:
  ekspose status [-n NAMESPACE | -A] [-o table|json] [--kubeconfig PATH] [--context NAME]
  kubectl ekspose status ...      (the same, as a kubectl plugin: kubectl-ekspose on your PATH)

One row per Deployment: how it is exposed (Service only, Ingress, HTTPRoute), its URL, and its
state: exposed, invalid, conflict, waiting for host, not accepted (by the Gateway), refused,
waiting for Gateway API, pending (nothing made yet) or ignored; with the reason when not exposed.

Flags:
  -n, --namespace NAME     the namespace (default: the kubeconfig context's, else "default")
  -A, --all-namespaces     every namespace but kube-system, kube-public, kube-node-lease and ekspose's own
  -o, --output FORMAT      table (default) or json
      --kubeconfig PATH    kubeconfig file (default: KUBECONFIG, else ~/.kube/config)
      --context NAME       kubeconfig context (default: the current one)
  -h, --help               this text
`;

/** Parses argv (without node and the script); throws an Error whose message is for the user. */
export function parseStatusArgs(argv: readonly string[]): StatusArgs {
  const args: StatusArgs = { command: 'help', allNamespaces: false, output: 'table' };
  const rest = [...argv];
  const value = (flag: string): string => {
    const v = rest.shift();
    if (v === undefined || v.startsWith('-')) throw new Error(`${flag} needs a value`);
    return v;
  };
  let command: string | undefined;
  while (rest.length > 0) {
    const raw = rest.shift()!;
    const eq = raw.startsWith('--') ? raw.indexOf('=') : -1;
    const flag = eq === -1 ? raw : raw.slice(0, eq);
    if (eq !== -1) rest.unshift(raw.slice(eq + 1));
    switch (flag) {
      case '-h':
      case '--help':
        return { ...args, command: 'help' };
      case '-n':
      case '--namespace':
        args.namespace = value(flag);
        break;
      case '-A':
      case '--all-namespaces':
        args.allNamespaces = true;
        break;
      case '-o':
      case '--output': {
        const format = value(flag);
        if (format !== 'table' && format !== 'json') throw new Error(`--output must be table or json, not ${JSON.stringify(format)}`);
        args.output = format;
        break;
      }
      case '--kubeconfig':
        args.kubeconfig = value(flag);
        break;
      case '--context':
        args.context = value(flag);
        break;
      default:
        if (raw.startsWith('-')) throw new Error(`unknown flag ${raw}`);
        if (command !== undefined) throw new Error(`unexpected argument ${JSON.stringify(raw)}`);
        command = raw;
    }
  }
  if (command === undefined) return args;
  if (command !== 'status') throw new Error(`unknown command ${JSON.stringify(command)} (the command is: status)`);
  if (args.namespace !== undefined && args.allNamespaces) throw new Error('use --namespace or --all-namespaces, not both');
  return { ...args, command: 'status' };
}
