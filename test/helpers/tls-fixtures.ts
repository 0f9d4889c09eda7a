import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface TlsFixtures {
  /** PEM of the self-signed CA that signed `serverCert`. */
  readonly caCert: string;
  /** PEM of the server certificate: SANs 127.0.0.1, ::1, localhost, kubernetes.default.svc... */
  readonly serverCert: string;
  /** PEM of the server's private key (unencrypted). */
  readonly serverKey: string;
  /** Directory holding ca.crt, ca.key, server.crt, server.key. */
  readonly dir: string;
}

/** Keyed by the resolved directory; '' is the default temporary directory. */
const cache = new Map<string, TlsFixtures>();

const SERVER_EXT = [
  'basicConstraints = critical, CA:FALSE',
  'keyUsage = critical, digitalSignature, keyEncipherment',
  'extendedKeyUsage = serverAuth',
  'subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost, DNS:kubernetes, ' +
    'DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local',
  '',
].join('\n');

function openssl(args: readonly string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string; stderr?: Buffer };
    if (e.code === 'ENOENT') {
      throw new Error('tls-fixtures: the openssl CLI is not installed (Debian package: openssl)');
    }
    throw new Error(`tls-fixtures: openssl ${args[0] ?? ''} failed: ${e.stderr?.toString() ?? ''}`);
  }
}

/**
 * A CA and a server certificate signed by it (EC P-256, valid 10 years),
 * generated with the openssl CLI once per process (per directory) and cached.
 * Without `dir`, the files go to a fresh temporary directory removed at exit.
 */
export function makeTlsFixtures(dir?: string): TlsFixtures {
  const key = dir === undefined ? undefined : resolve(dir);
  const cached = cache.get(key ?? '');
  if (cached) return cached;

  let out: string;
  if (key === undefined) {
    out = mkdtempSync(join(tmpdir(), 'headway-tls-'));
    process.once('exit', () => rmSync(out, { recursive: true, force: true }));
  } else {
    out = key;
    if (!existsSync(out)) mkdirSync(out, { recursive: true });
  }

  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '3650',
      '-subj',
      '/CN=headway-fake-kube-ca',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    out,
  );
  openssl(
    [
      'req',
      '-new',
      ...ec,
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=kube-apiserver',
    ],
    out,
  );
  writeFileSync(join(out, 'server.ext'), SERVER_EXT);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      '3650',
      '-sha256',
      '-extfile',
      'server.ext',
    ],
    out,
  );

  const fixtures: TlsFixtures = {
    caCert: readFileSync(join(out, 'ca.crt'), 'utf8'),
    serverCert: readFileSync(join(out, 'server.crt'), 'utf8'),
    serverKey: readFileSync(join(out, 'server.key'), 'utf8'),
    dir: out,
  };
  cache.set(key ?? '', fixtures);
  return fixtures;
}
