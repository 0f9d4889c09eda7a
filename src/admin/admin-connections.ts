import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * At most this many admin connections at once. The admin endpoint shares
 * the process's file descriptors with the data path; without a cap, slow or
 * half-open admin clients could take them all (600 did at `ulimit -n 512`).
 * Scrapers, probes and an operator's curl need a handful.
 */
export const ADMIN_MAX_CONNECTIONS = 64;

/** Timeouts of the admin endpoint: short, since every legitimate request is small and local. */
export const ADMIN_TIMEOUTS = {
  /** The whole request head must arrive within this (Node checks every `checkIntervalMs`). */
  headersMs: 5_000,
  /** The whole request, body included. */
  requestMs: 10_000,
  /** An idle keep-alive connection is closed after this. */
  keepAliveMs: 5_000,
  checkIntervalMs: 1_000,
} as const;

interface Tracked {
  /** A request on it is being answered: never evicted. */
  busy: boolean;
}

/**
 * Caps the admin server's connections. A new connection over the cap
 * evicts the oldest one that is not being answered (idle keep-alive, or
 * still sending its request head), so a client holding many half-open
 * connections cannot lock the kubelet's probes out; only when every
 * connection is busy is the new one closed instead.
 */
export function capConnections(server: Server, max: number = ADMIN_MAX_CONNECTIONS): void {
  // Insertion order is age order: the first idle entry is the oldest.
  const open = new Map<Socket, Tracked>();
  server.on('connection', (socket: Socket) => {
    if (open.size >= max) {
      let victim: Socket | undefined;
      for (const [s, t] of open) {
        if (!t.busy) {
          victim = s;
          break;
        }
      }
      if (victim === undefined) {
        socket.destroy();
        return;
      }
      open.delete(victim);
      victim.destroy();
    }
    open.set(socket, { busy: false });
    socket.once('close', () => open.delete(socket));
  });
  server.on('request', (req, res) => {
    const t = open.get(req.socket);
    if (t === undefined) return;
    t.busy = true;
    res.once('close', () => (t.busy = false));
  });
}
