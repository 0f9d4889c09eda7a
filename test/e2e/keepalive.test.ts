import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../helpers/headway-process.ts';
import { type Backend, connectTo, eventually, startEcho } from '../helpers/sockets.ts';

/**
 * `--tcp-keepalive` on both sides of a proxied connection, read from the
 * kernel with `ss -o` (the keepalive timer of each socket). Accepted client
 * sockets get it from their listening socket (Linux copies it on accept),
 * backend sockets one to two seconds after they connect (deferred-keepalive.ts).
 */

let proxy: RunningProxy | undefined;
let echo: Backend | undefined;
afterEach(async () => {
  await proxy?.stop();
  proxy = undefined;
  await echo?.close();
  echo = undefined;
});

/** The `timer:(...)` of the established sockets whose `filter` (an ss expression) matches. */
function timers(filter: string): string[] {
  const out = execFileSync('ss', ['-tnoH', 'state', 'established', filter], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => /timer:\(([^)]*)\)/.exec(l)?.[1] ?? 'none');
}

/** A proxy with `keepalive` in front of an echo backend, one connection through it, and the accepted socket's timer. */
async function connectThrough(keepalive: string) {
  echo = await startEcho();
  const backend = echo;
  proxy = await startProxy([
    '--tcp-keepalive',
    keepalive,
    '--backends',
    `static://${backend.address}`,
  ]);
  const p = proxy;
  const client = await connectTo(p.port);
  client.write('x');
  await new Promise((r) => client.once('data', r));
  // The proxy's accepted socket: local port = the proxy's.
  const [accepted] = await eventually(() => {
    const t = timers(`( sport = :${p.port} )`);
    return t.length === 1 ? t : undefined;
  });
  return { backend, client, accepted };
}

describe('--tcp-keepalive', () => {
  it('arms keepalive on the client side and the backend side of each connection', async () => {
    const { backend, client, accepted } = await connectThrough('37s');
    expect(accepted).toMatch(/^keepalive,3[0-7]/);
    // The proxy's socket to the backend: remote port = the backend's, local port not the client's.
    const clientPort = client.localPort ?? 0;
    const armed = await eventually(
      () =>
        timers(`( dport = :${backend.port} and sport != :${clientPort} )`).find((t) =>
          /^keepalive,3[0-7]/.test(t),
        ),
      10_000,
    );
    expect(armed).toMatch(/^keepalive,3[0-7]/);
    client.destroy();
  });

  it('is off with --tcp-keepalive off', async () => {
    const { client, accepted } = await connectThrough('off');
    expect(accepted).toBe('none');
    client.destroy();
  });
});
