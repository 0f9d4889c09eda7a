import { ValueError } from '../core/errors.ts';

/**
 * The values of the HTTP health check options (`--health-path`, `--health-host`,
 * `--health-expect-status`) as users write them; health/http-check.ts runs the check.
 */

/** Inclusive ranges of accepted status codes. */
export type StatusSet = readonly (readonly [number, number])[];

/** The default `--health-expect-status`: any 2xx. */
export const ANY_2XX: StatusSet = [[200, 299]];

/** `200,204` or `200-299,301`: codes and ranges from 100 to 599. Throws naming the bad part. */
export function parseStatusSet(text: string): StatusSet {
  const out: [number, number][] = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    const m = /^(\d{3})(?:-(\d{3}))?$/.exec(part);
    if (m === null) throw new ValueError(`"${part}" is not a status code (NNN) or range (NNN-NNN)`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 100 || hi > 599 || lo > hi) {
      throw new ValueError(`"${part}" is outside 100-599 or an empty range`);
    }
    out.push([lo, hi]);
  }
  return out;
}

/** Print a status set back the way a user writes it. */
export function formatStatusSet(set: StatusSet): string {
  return set.map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}-${hi}`)).join(',');
}

/**
 * `--health-path`: an origin-form request target (`/primary`, `/health?x=1`).
 * Only visible ASCII: a space or a CR/LF would let the value write a second
 * request line or header into the check.
 */
export function parseHealthPath(text: string): string {
  if (!text.startsWith('/')) throw new ValueError(`"${text}" must start with /`);
  if (!/^[\x21-\x7e]+$/.test(text)) {
    throw new ValueError('must be visible ASCII without spaces (percent-encode anything else)');
  }
  return text;
}

/** `--health-host`: a Host header value (`db.example.com`, `10.0.0.1:8008`, `[::1]:8008`). */
export function parseHealthHost(text: string): string {
  if (!/^[A-Za-z0-9.\-_:[\]]+$/.test(text)) {
    throw new ValueError(`"${text}" is not a host name or address (with an optional :port)`);
  }
  return text;
}
