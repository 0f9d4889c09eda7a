/**
 * `node bench/failover-role-server.ts HTTP_PORT REDIS_PORT HOST...`: a
 * Patroni-like role endpoint beside each Redis of bench/failover. On
 * HOST:HTTP_PORT it answers
 *
 *   GET /primary  200 when the Redis on HOST:REDIS_PORT says role:master, else 503
 *   GET /replica  200 when it is a replica with its link to the primary up, else 503
 *   GET /health   200 when it answers at all, else 503
 *
 * asking that Redis (`INFO replication`, a new connection per request, 1 s
 * deadline) on every request, as Patroni's REST API reports the role of the
 * PostgreSQL beside it. It prints one JSON line once every address listens
 * and runs until SIGTERM/SIGINT, or at most HOLD_LIMIT_MS.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from 'node:net';

const HOLD_LIMIT_MS = 900_000;
const ASK_TIMEOUT_MS = 1000;

const [httpPortText = '', redisPortText = '', ...hosts] = process.argv.slice(2);
const httpPort = Number(httpPortText);
const redisPort = Number(redisPortText);
if (!Number.isInteger(httpPort) || !Number.isInteger(redisPort) || hosts.length === 0) {
  process.stderr.write(
    'usage: node bench/failover-role-server.ts HTTP_PORT REDIS_PORT HOST [HOST...]\n',
  );
  process.exit(2);
}

/** The INFO replication text of the Redis on `host`, or null when it does not answer in time. */
function replicationInfo(host: string): Promise<string | null> {
  return new Promise((resolve) => {
    const s = connect({ host, port: redisPort, noDelay: true });
    let text = '';
    const done = (value: string | null): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(null), ASK_TIMEOUT_MS);
    s.on('error', () => done(null));
    s.on('connect', () => s.write('INFO replication\r\n'));
    s.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      // A bulk string: $LEN\r\n...\r\n; complete once LEN bytes follow the header.
      const nl = text.indexOf('\r\n');
      if (nl < 0) return;
      const len = Number(text.slice(1, nl));
      if (text.length >= nl + 2 + len) done(text.slice(nl + 2, nl + 2 + len));
    });
  });
}

async function answer(host: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const info = await replicationInfo(host);
  const role = info === null ? null : (/role:(\w+)/.exec(info)?.[1] ?? null);
  let ok: boolean;
  if (req.url === '/primary' || req.url === '/master') ok = role === 'master';
  else if (req.url === '/replica')
    ok = role === 'slave' && info?.includes('master_link_status:up') === true;
  else if (req.url === '/health') ok = role !== null;
  else {
    res.writeHead(404).end();
    return;
  }
  res
    .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
    .end(`${JSON.stringify({ role })}\n`);
}

let listening = 0;
const servers = hosts.map((host) => {
  const server = createServer((req, res) => {
    void answer(host, req, res);
  });
  server.keepAliveTimeout = 1000;
  server.listen({ host, port: httpPort }, () => {
    if (++listening === hosts.length) {
      process.stdout.write(`${JSON.stringify({ listening: hosts, port: httpPort })}\n`);
    }
  });
  server.on('error', (err) => {
    process.stderr.write(`role server ${host}:${httpPort}: ${err.message}\n`);
    process.exit(1);
  });
  return server;
});

const stop = (): void => {
  for (const s of servers) s.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
setTimeout(stop, HOLD_LIMIT_MS).unref();
// Keep the process alive while the servers listen (they are ref'd); the timer above bounds it.
