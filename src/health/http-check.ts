import type { ReplyReader, ReplyVerdict } from './reply-matcher.ts';
import type { StatusSet } from '../config/health-check-values.ts';

/**
 * The HTTP health check (`--health-check http`): a minimal HTTP/1.1 client
 * over the probe's plain socket. It sends one `GET` with `Connection: close`
 * and reads only the status line: the code decides, so a check never parses
 * headers or a body (chunked or not), and the probe closes the connection as
 * soon as the code is known. That is what HAProxy's `option httpchk` with
 * `http-check expect status` does for Patroni (`GET /primary` on port 8008),
 * etcd (`/health`) and Elasticsearch (`/_cluster/health`).
 */

export function statusAccepted(set: StatusSet, code: number): boolean {
  return set.some(([lo, hi]) => code >= lo && code <= hi);
}

/** The request bytes of one check. */
export function httpCheckRequest(path: string, host: string): Buffer {
  return Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: headway-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
    'latin1',
  );
}

const PENDING: ReplyVerdict = { kind: 'pending' };

/**
 * Reads a response up to its final status line. Interim 1xx responses
 * (`103 Early Hints`) are skipped with their header block; `101` is final
 * (no GET of ours asks to switch). Anything that does not start with
 * `HTTP/1.x NNN` fails at once as `not an HTTP response`, so a check aimed at
 * the wrong port fails fast instead of at its timeout. The probe bounds what
 * is read, and its close is the end of the response.
 */
export class HttpStatusReader implements ReplyReader {
  readonly #accept: StatusSet;
  #text = '';

  constructor(accept: StatusSet) {
    this.#accept = accept;
  }

  feed(chunk: Buffer): ReplyVerdict {
    this.#text += chunk.toString('latin1');
    for (;;) {
      const head = this.#text.slice(0, 5);
      if (head !== 'HTTP/'.slice(0, head.length)) return notHttp();
      const nl = this.#text.indexOf('\n');
      if (nl < 0) return PENDING;
      const line = this.#text.slice(0, nl).replace(/\r$/, '');
      const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(line);
      if (m === null) return notHttp();
      const code = Number(m[1]);
      if (code >= 200 || code === 101 || code < 100) {
        const ok = statusAccepted(this.#accept, code);
        return { kind: ok ? 'pass' : 'fail', reason: `status ${code}`, status: code };
      }
      // An interim response: skip it with its headers and read the next one.
      const end = /\r?\n\r?\n/.exec(this.#text);
      if (end === null) return PENDING;
      this.#text = this.#text.slice(end.index + end[0].length);
      if (this.#text === '') return PENDING;
    }
  }
}

function notHttp(): ReplyVerdict {
  return { kind: 'fail', reason: 'not an HTTP response' };
}
