import { execFile } from 'node:child_process';
import { generateKeyPair, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const generateKeyPairAsync = promisify(generateKeyPair);

/** Paths of the PEM files a local control plane needs. */
export interface Certificates {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  /** Client certificate for `CN=admin, O=system:masters`. */
  adminCert: string;
  adminKey: string;
  /** RSA key pair that signs and checks service-account tokens. */
  serviceAccountKey: string;
  serviceAccountPub: string;
}

// Names a client may use to reach the API server: loopback, and the in-cluster
// names of the `kubernetes` Service (first IP of 10.0.0.0/24).
const SERVER_NAMES = [
  'IP:127.0.0.1',
  'DNS:localhost',
  'IP:10.0.0.1',
  'DNS:kubernetes',
  'DNS:kubernetes.default',
  'DNS:kubernetes.default.svc',
  'DNS:kubernetes.default.svc.cluster.local',
];

// A self-contained config, so the host's openssl.cnf defaults cannot add or clash with extensions.
const OPENSSL_CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = ${SERVER_NAMES.join(',')}
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('openssl is not installed; the local control plane needs it for its certificates', { cause: error });
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`, { cause: error });
  }
}

/**
 * Creates a throw-away CA and the certificates signed by it in `dir`. EC keys
 * for the certificates (fast to make); RSA for service-account tokens (RS256).
 */
export async function generateCertificates(dir: string): Promise<Certificates> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = (name: string): string => join(dir, name);
  const config = path('openssl.cnf');
  await writeFile(config, OPENSSL_CONFIG);
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

  const certs: Certificates = {
    caCert: path('ca.crt'),
    caKey: path('ca.key'),
    serverCert: path('apiserver.crt'),
    serverKey: path('apiserver.key'),
    adminCert: path('admin.crt'),
    adminKey: path('admin.key'),
    serviceAccountKey: path('sa.key'),
    serviceAccountPub: path('sa.pub'),
  };

  const serviceAccount = generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  }).then(async ({ publicKey, privateKey }) => {
    await writeFile(certs.serviceAccountKey, privateKey, { mode: 0o600 });
    await writeFile(certs.serviceAccountPub, publicKey);
  });

  await openssl([
    'req', '-x509', '-config', config, '-extensions', 'ca_ext', ...ecKey,
    '-keyout', certs.caKey, '-out', certs.caCert, '-days', '3650', '-subj', '/CN=ekspose-local-ca',
  ]);

  const signed = async (name: string, subject: string, extensions: string, cert: string, key: string): Promise<void> => {
    const csr = path(`${name}.csr`);
    await openssl(['req', '-new', '-config', config, ...ecKey, '-keyout', key, '-out', csr, '-subj', subject]);
    await openssl([
      'x509', '-req', '-in', csr, '-CA', certs.caCert, '-CAkey', certs.caKey,
      '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '3650',
      '-extfile', config, '-extensions', extensions, '-out', cert,
    ]);
  };

  await Promise.all([
    signed('apiserver', '/CN=kube-apiserver', 'server_ext', certs.serverCert, certs.serverKey),
    signed('admin', '/O=system:masters/CN=admin', 'client_ext', certs.adminCert, certs.adminKey),
    serviceAccount,
  ]);
  return certs;
}
