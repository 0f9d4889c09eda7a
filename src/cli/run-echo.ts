import type { Argv } from 'yargs';
import type { Server } from 'node:net';
import { formatHostPort, type HostPort } from '../core/address.ts';
import { ListenError, errnoCode } from '../core/errors.ts';
import { createEchoServer } from '../echo/echo-server.ts';
import { parseAll } from '../config/resolve.ts';
import type { AnyOptionSpec } from '../config/schema.ts';
import * as v from '../config/values.ts';

const listenSpec: AnyOptionSpec = {
  flag: 'listen',
  scope: 'process',
  group: 'Echo',
  describe: 'Address to listen on; repeatable',
  repeatable: true,
  default: [{ host: '::', port: 9000 }],
  defaultText: '[::]:9000',
  parse: (raw) => [v.hostPort(raw)],
};

const delaySpec: AnyOptionSpec = {
  flag: 'delay',
  scope: 'process',
  group: 'Echo',
  describe: 'Hold each reply this long',
  default: 0,
  defaultText: '0',
  parse: v.duration,
};

export function echoOptions<T>(y: Argv<T>) {
  return y
    .option('listen', {
      type: 'string',
      requiresArg: true,
      describe: `${listenSpec.describe} [default: ${listenSpec.defaultText}]`,
    })
    .option('delay', {
      type: 'string',
      requiresArg: true,
      describe: `${delaySpec.describe} [default: 0]`,
    });
}

/** `headway echo`: serve until SIGTERM/SIGINT; prints one JSON line per bound address. */
export async function runEcho(args: {
  listen?: string[] | string | undefined;
  delay?: string | undefined;
}): Promise<void> {
  const listen =
    args.listen === undefined
      ? (listenSpec.default as HostPort[])
      : (parseAll(listenSpec, '--listen', ([] as string[]).concat(args.listen)) as HostPort[]);
  const delayMs =
    args.delay === undefined ? 0 : (parseAll(delaySpec, '--delay', [args.delay]) as number);
  const servers = await Promise.all(listen.map((hp) => listenEcho(hp, delayMs)));
  const stop = (): void => {
    for (const s of servers) s.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function listenEcho(hp: HostPort, delayMs: number): Promise<Server> {
  const server = createEchoServer({ delayMs });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => {
      reject(
        new ListenError(
          formatHostPort(hp.host, hp.port),
          errnoCode(err) === 'EADDRINUSE' ? 'address already in use' : err.message,
          { cause: err },
        ),
      );
    });
    server.listen({ host: hp.host, port: hp.port, backlog: 4096 }, resolve);
  });
  const addr = server.address();
  const bound =
    addr !== null && typeof addr === 'object' ? formatHostPort(addr.address, addr.port) : '';
  process.stdout.write(JSON.stringify({ msg: 'echo listening', address: bound, delayMs }) + '\n');
  return server;
}
