import { Dnsmasq, type DnsmasqOptions } from '../helpers/dnsmasq.ts';

/** A dnsmasq on loopback, started (dispose it when done). */
export async function startDns(opts: DnsmasqOptions): Promise<Dnsmasq> {
  const dns = new Dnsmasq(opts);
  await dns.start();
  return dns;
}

/**
 * Proxy flags that discover `uri` (`dns://NAME:PORT`, `srv://…`) through `dns`;
 * with `refresh`, it re-resolves at that fixed interval whatever the TTL says
 * (so a test sees changes and repeated failures quickly).
 */
export function dnsDiscoveryArgs(dns: Dnsmasq, uri: string, refresh?: string): string[] {
  const every =
    refresh === undefined ? [] : ['--dns-min-refresh', refresh, '--dns-max-refresh', refresh];
  return ['--dns-server', dns.server, ...every, '--backends', uri];
}
