import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { ListenError, NodeInternalsChangedError, errorMessage } from '../../core/errors.ts';
import type { StreamReadCallback } from '../tcp-stream.ts';
import { setAcceptCallback } from './accept-hook.ts';
import { bindingProblems, libuvBindings, type LibuvBindings } from './bindings.ts';
import { RawSocket } from './raw-socket.ts';

/** Bytes sent each way: many read buffers full (reads split), in 64 KiB writes (some may queue). */
const PAYLOAD_BYTES = 256 * 1024 + 4099;
/** The whole round trip, by default; loopback needs a few milliseconds. */
const DEADLINE_MS = 5000;

/**
 * The start-up self-test of the raw data path (`--socket-impl raw`): first
 * that the binding surface has every piece Headway uses, with the types it
 * uses (bindings.ts), then that it behaves: a loopback connection accepted
 * through net.Server's handle (accept-hook.ts) and opened with
 * `RawSocket.connect` carries bytes both ways intact, then FIN each way and
 * closes. Throws `NodeInternalsChangedError` naming what is wrong, before
 * any client connection could be relayed by code that no longer fits this
 * Node.js.
 *
 * @param load where the surface comes from; tests pass a broken one.
 * @param deadlineMs how long the round trip may take.
 */
export async function assertBindings(
  load: () => LibuvBindings = libuvBindings,
  deadlineMs = DEADLINE_MS,
): Promise<void> {
  const uv = load();
  const problems = bindingProblems(uv);
  if (problems.length > 0) throw new NodeInternalsChangedError(problems.join('; '));
  try {
    await roundTrip(uv, deadlineMs);
  } catch (err) {
    if (err instanceof NodeInternalsChangedError || err instanceof ListenError) throw err;
    throw new NodeInternalsChangedError(`loopback self-test: ${errorMessage(err)}`, { cause: err });
  }
}

/** Where the round trip got to, for the message when it stops short. */
interface Progress {
  stage: string;
  readonly deadlineMs: number;
  echoed: number;
  readBack: Buffer[];
  readBytes: number;
}

/**
 * A listening socket on a loopback address (IPv4, else IPv6). No loopback
 * at all is this machine's problem, not Node's: a ListenError (exit 1),
 * never a false "Node.js changed".
 */
async function listenOnLoopback(): Promise<Server> {
  const tried: string[] = [];
  for (const host of ['127.0.0.1', '::1']) {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    server.listen(0, host);
    try {
      await once(server, 'listening');
      return server;
    } catch (err) {
      tried.push(`${host}: ${errorMessage(err)}`);
    }
  }
  throw new ListenError(
    'a loopback address',
    `the start-up self-test of --socket-impl raw needs one (${tried.join('; ')})`,
  );
}

async function roundTrip(uv: LibuvBindings, deadlineMs: number): Promise<void> {
  const server = await listenOnLoopback();
  const { address: host, port } = server.address() as AddressInfo;
  const sockets: RawSocket[] = [];
  const progress: Progress = { stage: 'accept', deadlineMs, echoed: 0, readBack: [], readBytes: 0 };
  let timer: NodeJS.Timeout | undefined;
  try {
    const done = new Promise<void>((resolve, reject) => {
      const fail = (why: string): void =>
        reject(new NodeInternalsChangedError(`loopback self-test: ${why}`));
      timer = setTimeout(() => fail(timeoutMessage(progress)), deadlineMs);
      setAcceptCallback(server, (status, client) => {
        if (status !== 0 || client === undefined) {
          fail(`accept failed with status ${status}`);
          return;
        }
        sockets.push(echoSide(uv, client, progress, fail));
      });
      sockets.push(clientSide(uv, host, port, progress, resolve, fail));
    });
    await done;
  } finally {
    clearTimeout(timer);
    for (const s of sockets) s.destroy();
    server.close();
  }
}

/** The accepted side: writes back what it reads, FIN after the peer's FIN. */
function echoSide(
  uv: LibuvBindings,
  handle: Parameters<typeof RawSocket.adopt>[0],
  progress: Progress,
  fail: (why: string) => void,
): RawSocket {
  const echo: StreamReadCallback = (stream, nread, buf) => {
    progress.echoed += nread;
    if (!stream.write(Buffer.from(buf.subarray(0, nread)))) stream.pause();
    return buf;
  };
  const socket = RawSocket.adopt(handle, {
    onRead: echo,
    buffer: Buffer.alloc(16 * 1024),
    keepAliveMs: 0,
    bindings: uv,
  });
  socket.setHandler('drain', () => socket.resume());
  socket.setHandler('end', () => socket.end());
  socket.setHandler('error', (err) => fail(`accepted socket: ${errorMessage(err)}`));
  socket.resume();
  return socket;
}

/** The connecting side: sends the payload, FIN, and checks what comes back. */
function clientSide(
  uv: LibuvBindings,
  host: string,
  port: number,
  progress: Progress,
  resolve: () => void,
  fail: (why: string) => void,
): RawSocket {
  const payload = Buffer.alloc(PAYLOAD_BYTES);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 11)) % 251;
  const collect: StreamReadCallback = (_s, nread, buf) => {
    progress.readBack.push(Buffer.from(buf.subarray(0, nread)));
    progress.readBytes += nread;
    return buf;
  };
  const socket = RawSocket.connect(host, port, {
    onRead: collect,
    buffer: Buffer.alloc(16 * 1024),
    keepAliveMs: 0,
    bindings: uv,
  });
  let ended = false;
  socket.setHandler('connect', () => {
    progress.stage = 'write';
    if (socket.remotePort !== port)
      fail(`the connected socket names its peer port ${String(socket.remotePort)}, not ${port}`);
    // In pieces, so that some writes complete at once and some queue in libuv.
    for (let at = 0; at < payload.length; at += 64 * 1024)
      socket.write(payload.subarray(at, at + 64 * 1024));
    socket.end();
    progress.stage = 'read back';
  });
  socket.setHandler('end', () => {
    ended = true;
    progress.stage = 'close';
    const got = Buffer.concat(progress.readBack);
    const problem = compare(payload, got);
    if (problem !== undefined) fail(problem);
  });
  socket.setHandler('error', (err) =>
    fail(`connecting socket, at ${progress.stage}: ${errorMessage(err)}`),
  );
  socket.setHandler('close', () => {
    if (!ended) fail(`the connecting socket closed before the peer's FIN (at ${progress.stage})`);
    else if (socket.bytesRead !== payload.length)
      fail(`bytesRead is ${socket.bytesRead} after reading ${payload.length} bytes`);
    else resolve();
  });
  return socket;
}

/** Why `got` is not `sent`, naming the read path when the bytes are wrong. */
function compare(sent: Buffer, got: Buffer): string | undefined {
  if (got.equals(sent)) return undefined;
  let at = 0;
  while (at < got.length && at < sent.length && got[at] === sent[at]) at++;
  return `read back ${got.length} bytes for ${sent.length} sent, differing from byte ${at} (${READ_PATH})`;
}

const READ_PATH =
  'the byte count of each read comes from stream_wrap streamBaseState[kReadBytesOrError]';

function timeoutMessage(p: Progress): string {
  const reading =
    p.stage === 'read back' || p.stage === 'write'
      ? `; ${p.echoed} bytes echoed, ${p.readBytes} read back (${READ_PATH})`
      : '';
  return `no progress within ${p.deadlineMs} ms at ${p.stage}${reading}`;
}
