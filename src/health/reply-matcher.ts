import { formatCheckExpect, type CheckExpect } from '../config/check-string.ts';

/**
 * What a check has decided after reading some of a backend's reply: it
 * passed, it failed (`reason` says why, e.g. `rejected role:slave`), or it
 * must read on. `status` is the HTTP status code of an HTTP check.
 */
export type ReplyVerdict =
  | { readonly kind: 'pending' }
  | { readonly kind: 'pass' | 'fail'; readonly reason: string; readonly status?: number };

/**
 * Judges a check's reply as it arrives, one chunk at a time. The probe owns
 * the socket, the timeout and the read limit; a reader only says when the
 * bytes so far decide the check. One reader serves one probe.
 */
export interface ReplyReader {
  feed(chunk: Buffer): ReplyVerdict;
}

const PENDING: ReplyVerdict = { kind: 'pending' };
const MATCHED: ReplyVerdict = { kind: 'pass', reason: 'matched' };

/**
 * Incremental matching of a check's reply against one expectation and any
 * number of reject patterns (`--health-expect`, `--health-reject`, HAProxy
 * `tcp-check expect string` and `expect ! string`).
 *
 * A check passes the moment its expectation appears and fails the moment a
 * reject pattern does, instead of waiting for its timeout: a Redis replica
 * answers `role:slave` in well under a millisecond, and a check that only
 * knows "not yet `role:master`" keeps routing writes to it for the whole
 * timeout. When one chunk makes both match, the reject wins: a reply that
 * says both things is not one to send writes to.
 *
 * Substrings are searched only where a match could newly end, so a long
 * reply read in many chunks is not rescanned; regexes run on the latin1
 * text read so far (one char per byte), which the caller bounds.
 */
export class ReplyMatcher implements ReplyReader {
  readonly #expect: CheckExpect;
  readonly #reject: readonly CheckExpect[];
  /** Bytes fed so far (the caller bounds how many). */
  #received: Buffer = Buffer.alloc(0);
  /** The same as latin1 text, kept only when a regex needs it. */
  #text = '';
  readonly #needsText: boolean;
  /** Length of `#received` at the previous feed. */
  #searchedTo = 0;

  constructor(expect: CheckExpect, reject: readonly CheckExpect[] = []) {
    this.#expect = expect;
    this.#reject = reject;
    this.#needsText = expect.kind === 'regex' || reject.some((r) => r.kind === 'regex');
  }

  /** Add the next bytes of the reply and say what they decide. */
  feed(chunk: Buffer): ReplyVerdict {
    const from = this.#searchedTo;
    this.#received = this.#received.length === 0 ? chunk : Buffer.concat([this.#received, chunk]);
    if (this.#needsText) this.#text += chunk.toString('latin1');
    this.#searchedTo = this.#received.length;
    for (let i = 0; i < this.#reject.length; i++) {
      const pattern = this.#reject[i] as CheckExpect;
      if (this.#found(pattern, from)) {
        return { kind: 'fail', reason: `rejected ${formatCheckExpect(pattern)}` };
      }
    }
    return this.#found(this.#expect, from) ? MATCHED : PENDING;
  }

  #found(pattern: CheckExpect, from: number): boolean {
    if (pattern.kind === 'substring') {
      const start = Math.max(0, from - pattern.bytes.length + 1);
      return this.#received.indexOf(pattern.bytes, start) >= 0;
    }
    pattern.re.lastIndex = 0;
    return pattern.re.test(this.#text);
  }
}
