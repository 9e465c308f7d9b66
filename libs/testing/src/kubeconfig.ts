export interface KubeconfigInput {
  server: string;
  /** PEM text, embedded so the file works wherever it is copied. */
  caCert: string;
  clientCert: string;
  clientKey: string;
  /** Cluster, user and context name. */
  name?: string;
}

const b64 = (pem: string): string => Buffer.from(pem).toString('base64');

/** A one-context kubeconfig (YAML) with the credentials embedded. */
export function renderKubeconfig(input: KubeconfigInput): string {
  const name = input.name ?? 'ekspose-local';
  return `apiVersion: v1
kind: Config
clusters:
- name: ${name}
  cluster:
    server: ${input.server}
    certificate-authority-data: ${b64(input.caCert)}
users:
- name: ${name}-admin
  user:
    client-certificate-data: ${b64(input.clientCert)}
    client-key-data: ${b64(input.clientKey)}
contexts:
- name: ${name}
  context:
    cluster: ${name}
    user: ${name}-admin
    namespace: default
current-context: ${name}
preferences: {}
`;
}
