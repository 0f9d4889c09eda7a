import { once } from 'node:events';
import type { Server } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { Dnsmasq } from '../helpers/dnsmasq.ts';
import { makeTlsFixtures } from '../helpers/tls-fixtures.ts';

/**
 * The SNI routing setup the e2e and regression tests share: TLS "pods" on
 * loopback aliases, a headless Service's SRV records in dnsmasq, and the
 * proxy flags that map `{hostname}.db.example.com` to a pod.
 */
export const SNI_SERVICE = '_tls._tcp.db.test.svc.cluster.local';

/** `--route-by sni` with the pattern the pods' names fit. */
export const SNI_ROUTE_ARGS: readonly string[] = [
  '--route-by',
  'sni',
  '--sni-pattern',
  '{hostname}.db.example.com',
];

export interface SniPod {
  /** Its loopback alias (127.0.0.x). */
  readonly address: string;
  /** Its hostname in the Service (`db-0`); clients name it as `db-0.db.example.com`. */
  readonly name: string;
}

/** dnsmasq answering the Service's SRV records for these pods, all on `port`. */
export async function startSniDns(pods: readonly SniPod[], port: number): Promise<Dnsmasq> {
  const fqdn = (p: SniPod): string => `${p.name}.db.test.svc.cluster.local`;
  const dns = new Dnsmasq({
    ttl: 1,
    hosts: pods.map((p) => `${p.address} ${fqdn(p)}`),
    srv: pods.map((p) => `${SNI_SERVICE},${fqdn(p)},${port},0,1`),
  });
  await dns.start();
  return dns;
}

/** The proxy flags that discover the Service through `dns`. */
export function sniDiscoveryArgs(dns: Dnsmasq): string[] {
  return ['--dns-server', dns.server, '--backends', `srv://${SNI_SERVICE}`];
}

/**
 * A TLS server standing for one pod: after the handshake it says `I am NAME`
 * and closes, or with `hold` keeps the connection open.
 */
export async function startTlsPod(
  pod: SniPod,
  port: number,
  opts: { readonly hold?: boolean } = {},
): Promise<Server> {
  const fx = makeTlsFixtures();
  const server = createTlsServer({ cert: fx.serverCert, key: fx.serverKey }, (s) => {
    s.on('error', () => undefined);
    if (opts.hold === true) s.write(`I am ${pod.name}`);
    else s.end(`I am ${pod.name}`);
  });
  server.listen({ host: pod.address, port });
  await once(server, 'listening');
  return server;
}

/** A TLS client naming `servername`, its errors ignored (the test watches `close`). */
export function tlsClient(port: number, servername: string): TLSSocket {
  const s = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
  s.on('error', () => undefined);
  return s;
}

/** Connect naming `servername` and resolve with what the pod said; rejects when nothing came. */
export function tlsHello(port: number, servername: string): Promise<string> {
  const s: TLSSocket = tlsConnect({
    host: '127.0.0.1',
    port,
    servername,
    rejectUnauthorized: false,
  });
  return new Promise((resolve, reject) => {
    let text = '';
    s.on('data', (c: Buffer) => (text += c.toString()));
    s.on('error', reject);
    s.on('close', () => {
      if (text === '') reject(new Error('closed without an answer'));
      else resolve(text);
    });
  });
}
