import { connect, type Socket } from 'node:net';
import { encodeCommand, RespErrorReply, RespParser, type RespValue } from './resp.ts';
import { HeadwayError } from '../../core/errors.ts';

export interface RespConnectionOptions {
  readonly host: string;
  readonly port: number;
  /** Sent as `AUTH password` before anything else; never logged. */
  readonly password?: string | undefined;
  readonly connectTimeoutMs: number;
  /** A reply that takes longer ends the connection (a stuck sentinel is treated as gone). */
  readonly commandTimeoutMs: number;
}

/** Why a connection failed, as a low-cardinality metric reason. */
export type RespFailure = 'connect' | 'timeout' | 'closed' | 'protocol' | 'auth';

export class RespConnectionError extends HeadwayError {
  readonly reason: RespFailure;

  constructor(reason: RespFailure, message: string, options?: { cause?: unknown }) {
    super('HW_SENTINEL_CONNECTION', message, options);
    this.name = 'RespConnectionError';
    this.reason = reason;
  }
}

interface Pending {
  readonly resolve: (v: RespValue) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * One RESP2 connection: commands answered in order (a FIFO of waiters), or,
 * after `subscribe`, a stream of pub/sub messages. Any failure (timeout,
 * protocol error, close) ends it for good and rejects every waiter; the owner
 * reconnects with a new one.
 */
export class RespConnection {
  readonly #opts: RespConnectionOptions;
  readonly #parser = new RespParser();
  readonly #pending: Pending[] = [];
  #socket: Socket | undefined;
  #closed = false;
  #onMessage: ((channel: string, payload: string) => void) | undefined;
  #onClose: ((err: RespConnectionError) => void) | undefined;

  constructor(opts: RespConnectionOptions) {
    this.#opts = opts;
  }

  /** Connect, then AUTH when a password is set. Rejects with RespConnectionError. */
  async open(onClose: (err: RespConnectionError) => void): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const s = connect({ host: this.#opts.host, port: this.#opts.port });
      this.#socket = s;
      s.setNoDelay(true);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new RespConnectionError('connect', 'connect timed out'));
      }, this.#opts.connectTimeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.off('error', onConnectError);
        resolve();
      });
      const onConnectError = (err: Error): void => {
        clearTimeout(timer);
        reject(new RespConnectionError('connect', err.message, { cause: err }));
      };
      s.once('error', onConnectError);
    });
    const s = this.#socket;
    if (s === undefined) throw new RespConnectionError('connect', 'no socket');
    s.on('data', (chunk: Buffer) => this.#onData(chunk));
    s.on('error', (err) => this.#fail(new RespConnectionError('closed', err.message)));
    s.on('close', () => this.#fail(new RespConnectionError('closed', 'connection closed')));
    if (this.#opts.password !== undefined) {
      let reply: RespValue;
      try {
        reply = await this.command(['AUTH', this.#opts.password]);
      } catch (err) {
        this.close();
        throw err;
      }
      if (reply instanceof RespErrorReply) {
        this.close();
        throw new RespConnectionError('auth', `AUTH refused: ${firstWord(reply.message)}`);
      }
    }
    if (this.#closed) throw new RespConnectionError('closed', 'connection closed');
    // Only an opened connection reports its end: a failed open() rejects instead.
    this.#onClose = onClose;
  }

  /** Send one command; resolves with its reply (an error reply is a value). */
  command(args: readonly string[]): Promise<RespValue> {
    const s = this.#socket;
    if (s === undefined || this.#closed) {
      return Promise.reject(new RespConnectionError('closed', 'not connected'));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(new RespConnectionError('timeout', `no reply to ${args[0] ?? ''} in time`));
      }, this.#opts.commandTimeoutMs);
      this.#pending.push({ resolve, reject, timer });
      s.write(encodeCommand(args));
    });
  }

  /** Enter pub/sub mode; `onMessage` gets each published message. Resolves once subscribed. */
  async subscribe(
    channels: readonly string[],
    onMessage: (channel: string, payload: string) => void,
  ): Promise<void> {
    this.#onMessage = onMessage;
    // Redis confirms each channel with its own reply; the first settles the waiter.
    const reply = await this.command(['SUBSCRIBE', ...channels]);
    if (reply instanceof RespErrorReply) {
      this.#fail(new RespConnectionError('protocol', `SUBSCRIBE refused: ${reply.message}`));
      throw new RespConnectionError('protocol', 'SUBSCRIBE refused');
    }
  }

  close(): void {
    this.#onClose = undefined;
    this.#fail(new RespConnectionError('closed', 'closed locally'));
  }

  get closed(): boolean {
    return this.#closed;
  }

  #onData(chunk: Buffer): void {
    let values: RespValue[];
    try {
      values = this.#parser.push(chunk);
    } catch (err) {
      this.#fail(
        new RespConnectionError('protocol', err instanceof Error ? err.message : String(err)),
      );
      return;
    }
    for (const v of values) {
      if (this.#onMessage !== undefined && Array.isArray(v) && v[0] === 'message') {
        const [, channel, payload] = v as readonly RespValue[];
        if (typeof channel === 'string' && typeof payload === 'string') {
          this.#onMessage(channel, payload);
        }
        continue;
      }
      const p = this.#pending.shift();
      // Further `subscribe` confirmations have no waiter: ignored.
      if (p === undefined) continue;
      clearTimeout(p.timer);
      p.resolve(v);
    }
  }

  #fail(err: RespConnectionError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket?.destroy();
    for (const p of this.#pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    const onClose = this.#onClose;
    this.#onClose = undefined;
    onClose?.(err);
  }
}

/** The error code of a reply (`WRONGPASS`, `ERR`), never the rest: it could echo input. */
function firstWord(message: string): string {
  return message.split(' ')[0] ?? '';
}
