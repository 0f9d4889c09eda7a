import { getSystemErrorMap } from 'node:util';
import { NodeInternalsChangedError, errorMessage } from '../../core/errors.ts';

/**
 * The one place Headway reaches into Node.js internals for its data path:
 * libuv's TCP handles and the stream request wraps, as net itself uses them
 * (`process.binding('tcp_wrap')` and `'stream_wrap'`, documented-deprecated
 * as DEP0111 but kept for compatibility). Nothing else in the code base may
 * call `process.binding`; everything below is typed as Headway uses it and
 * checked at start-up by `assertBindings()` (self-test.ts), so a Node.js
 * that changed them stops Headway with a clear message instead of
 * corrupting a stream. `--socket-impl net` runs without any of this.
 */

/** A request wrap (connect, write, shutdown): libuv calls `oncomplete` with its status. */
export interface ReqWrap {
  handle?: TcpHandle;
  oncomplete?: (this: never, status: number) => void;
}

/** A libuv TCP handle (`tcp_wrap.TCP`): a connected socket, or a listening one. */
export interface TcpHandle {
  /** Called for each read; the byte count (or error) is in `streamBaseState`. Must always be a function. */
  onread: (this: TcpHandle) => Buffer | undefined;
  /** Net's flag for a handle between readStart and readStop. */
  reading: boolean;
  bind(host: string, port: number): number;
  listen(backlog: number): number;
  connect(req: ReqWrap, host: string, port: number): number;
  connect6(req: ReqWrap, host: string, port: number): number;
  /** Reads land in `buf` (the one `onread` returns from then on) instead of a fresh allocation. */
  useUserBuffer(buf: Buffer): void;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: ReqWrap, buf: Buffer): number;
  shutdown(req: ReqWrap): number;
  setNoDelay(on: boolean): number;
  setKeepAlive(on: boolean, delaySeconds: number): number;
  getpeername(out: Record<string, unknown>): number;
  getsockname(out: Record<string, unknown>): number;
  /** Close with RST (SO_LINGER 0). */
  reset(cb?: () => void): number;
  close(cb?: () => void): void;
}

/** The typed binding surface: handle and request constructors, shared state, libuv codes. */
export interface LibuvBindings {
  readonly TCP: new (type: number) => TcpHandle;
  readonly TCPConnectWrap: new () => ReqWrap;
  readonly WriteWrap: new () => ReqWrap;
  readonly ShutdownWrap: new () => ReqWrap;
  /** `tcp_wrap.constants.SOCKET`: the handle type of a connecting socket. */
  readonly socketType: number;
  /** `tcp_wrap.constants.SERVER`: the handle type of a listening socket (bench/raw-relay.ts). */
  readonly serverType: number;
  /** Where each read's byte count and each write's sync/async outcome are left for JS. */
  readonly streamBaseState: Int32Array;
  readonly kReadBytesOrError: number;
  readonly kLastWriteWasAsync: number;
  /** libuv's end-of-stream read status (UV_EOF). */
  readonly UV_EOF: number;
  /** libuv's status of a request cancelled by closing its handle (UV_ECANCELED). */
  readonly UV_ECANCELED: number;
}

/** The handle methods Headway (and bench/raw-relay.ts) calls: each must be a function. */
export const HANDLE_METHODS = [
  'bind',
  'listen',
  'connect',
  'connect6',
  'useUserBuffer',
  'readStart',
  'readStop',
  'writeBuffer',
  'shutdown',
  'setNoDelay',
  'setKeepAlive',
  'getpeername',
  'getsockname',
  'reset',
  'close',
] as const satisfies readonly (keyof TcpHandle)[];

/**
 * libuv's status code named `name`, from Node's own table
 * (`util.getSystemErrorMap()`, keyed by the negative libuv code). Not
 * `os.constants.errno`: that table holds the platform's positive errno
 * values, which are not libuv's codes everywhere (on Windows libuv numbers
 * its errors itself), and it has no EOF at all, since end-of-stream is
 * libuv's own status, not a system error. Undefined when Node does not name
 * it: the self-test then refuses the raw data path.
 */
export function libuvCode(name: string): number | undefined {
  for (const [code, [errName]] of getSystemErrorMap()) if (errName === name) return code;
  return undefined;
}

let loaded: LibuvBindings | undefined;

/**
 * The bindings of this Node.js, obtained once. Throws
 * `NodeInternalsChangedError` when a binding cannot be had at all; whether
 * what it has is usable is `bindingProblems()`'s (and the self-test's) job.
 */
export function libuvBindings(): LibuvBindings {
  loaded ??= loadBindings();
  return loaded;
}

function loadBindings(): LibuvBindings {
  const tcp = binding('tcp_wrap');
  const stream = binding('stream_wrap');
  const constants = (tcp.constants ?? {}) as Record<string, unknown>;
  return {
    TCP: tcp.TCP as LibuvBindings['TCP'],
    TCPConnectWrap: tcp.TCPConnectWrap as LibuvBindings['TCPConnectWrap'],
    WriteWrap: stream.WriteWrap as LibuvBindings['WriteWrap'],
    ShutdownWrap: stream.ShutdownWrap as LibuvBindings['ShutdownWrap'],
    socketType: constants.SOCKET as number,
    serverType: constants.SERVER as number,
    streamBaseState: stream.streamBaseState as Int32Array,
    kReadBytesOrError: stream.kReadBytesOrError as number,
    kLastWriteWasAsync: stream.kLastWriteWasAsync as number,
    UV_EOF: libuvCode('EOF') as number,
    UV_ECANCELED: libuvCode('ECANCELED') as number,
  };
}

function binding(name: string): Record<string, unknown> {
  const internal = process as unknown as { binding?: (name: string) => unknown };
  if (typeof internal.binding !== 'function')
    throw new NodeInternalsChangedError('process.binding is gone');
  let b: unknown;
  try {
    b = internal.binding(name);
  } catch (err) {
    throw new NodeInternalsChangedError(`process.binding('${name}') failed: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  if (typeof b !== 'object' || b === null)
    throw new NodeInternalsChangedError(`process.binding('${name}') is not an object`);
  return b as Record<string, unknown>;
}

/**
 * What is missing or mistyped in `b`, one line each (empty: the surface is
 * as Headway uses it). Types only: whether the pieces behave is the
 * self-test's loopback round trip.
 */
export function bindingProblems(b: LibuvBindings): string[] {
  const problems: string[] = [];
  const ctor = (what: string, value: unknown): void => {
    if (typeof value !== 'function') problems.push(`${what} is ${typeName(value)}, not a class`);
  };
  ctor('tcp_wrap.TCP', b.TCP);
  ctor('tcp_wrap.TCPConnectWrap', b.TCPConnectWrap);
  ctor('stream_wrap.WriteWrap', b.WriteWrap);
  ctor('stream_wrap.ShutdownWrap', b.ShutdownWrap);
  if (typeof b.TCP === 'function') {
    const proto = b.TCP.prototype as unknown as Record<string, unknown>;
    for (const m of HANDLE_METHODS) {
      if (typeof proto[m] !== 'function')
        problems.push(`tcp_wrap.TCP.prototype.${m} is ${typeName(proto[m])}, not a function`);
    }
  }
  const int = (what: string, value: unknown): void => {
    if (!Number.isInteger(value)) problems.push(`${what} is ${typeName(value)}, not an integer`);
  };
  int('tcp_wrap.constants.SOCKET', b.socketType);
  int('tcp_wrap.constants.SERVER', b.serverType);
  if (!(b.streamBaseState instanceof Int32Array)) {
    problems.push(
      `stream_wrap.streamBaseState is ${typeName(b.streamBaseState)}, not an Int32Array`,
    );
  } else {
    const slot = (what: string, value: unknown): void => {
      if (!Number.isInteger(value) || (value as number) < 0)
        problems.push(`stream_wrap.${what} is ${typeName(value)}, not a slot index`);
      else if ((value as number) >= b.streamBaseState.length)
        problems.push(
          `stream_wrap.${what} (${String(value)}) is past streamBaseState's ${b.streamBaseState.length} slots`,
        );
    };
    slot('kReadBytesOrError', b.kReadBytesOrError);
    slot('kLastWriteWasAsync', b.kLastWriteWasAsync);
    if (b.kReadBytesOrError === b.kLastWriteWasAsync)
      problems.push('stream_wrap.kReadBytesOrError and kLastWriteWasAsync name the same slot');
  }
  const code = (what: string, value: unknown): void => {
    if (!Number.isInteger(value) || (value as number) >= 0)
      problems.push(`libuv's ${what} is not in util.getSystemErrorMap()`);
  };
  code('EOF', b.UV_EOF);
  code('ECANCELED', b.UV_ECANCELED);
  return problems;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') {
    const ctor = (value as { constructor?: { name?: string } }).constructor;
    return ctor?.name ?? 'an object';
  }
  return typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`;
}
