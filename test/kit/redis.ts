import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../helpers/sockets.ts';

export interface RedisServerOptions {
  /** A loopback address of its own (127.0.0.x), so several servers can share a port. */
  readonly host: string;
  readonly port: number;
  /** Working directory: a replica's full sync writes an RDB file there, not in the repository. */
  readonly dir: string;
  readonly replicaOf?: { readonly host: string; readonly port: number };
  /** Further arguments, e.g. `--dbfilename` or `--replica-announce-ip`. */
  readonly extraArgs?: readonly string[];
}

/** A fresh temporary directory for one Redis server's files. */
export function redisDir(): string {
  return mkdtempSync(join(tmpdir(), 'headway-redis-'));
}

/** `redis-server` with no persistence and no protected mode, output discarded; not waited for. */
export function spawnRedisServer(o: RedisServerOptions): ChildProcess {
  const args = [
    '--port',
    String(o.port),
    '--bind',
    o.host,
    '--save',
    '',
    '--appendonly',
    'no',
    '--protected-mode',
    'no',
    '--dir',
    o.dir,
    ...(o.extraArgs ?? []),
  ];
  if (o.replicaOf !== undefined)
    args.push('--replicaof', o.replicaOf.host, String(o.replicaOf.port));
  return spawn('redis-server', args, { stdio: 'ignore' });
}

/** Spawn a Redis server and wait (bounded) until it accepts connections. */
export async function startRedisServer(o: RedisServerOptions): Promise<ChildProcess> {
  const p = spawnRedisServer(o);
  await eventually(async () => {
    try {
      (await openSocket(o.port, o.host)).destroy();
      return true;
    } catch {
      return undefined;
    }
  });
  return p;
}

/** A connected socket whose later errors are ignored (the test watches `close`). */
export async function openSocket(port: number, host: string): Promise<Socket> {
  const s = connect({ port, host });
  s.on('error', () => undefined);
  await once(s, 'connect');
  return s;
}

/** One inline Redis command; resolves with the first reply line ('' when the connection closes first). */
export function inlineCommand(socket: Socket, line: string): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (c: Buffer): void => {
      text += c.toString('latin1');
      const nl = text.indexOf('\r\n');
      if (nl < 0) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(text.slice(0, nl));
    };
    const onClose = (): void => {
      socket.off('data', onData);
      resolve('');
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(`${line}\r\n`);
  });
}
