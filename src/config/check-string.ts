import { ValueError } from '../core/errors.ts';
/**
 * The strings of a TCP health check as users write them on the command line
 * (`--health-send`, `--health-expect`). A shell makes raw bytes awkward, so
 * both accept the escapes `\r`, `\n`, `\t`, `\\` and `\xHH`; any other
 * backslash is an error rather than a guess. Text outside escapes is UTF-8.
 */

/** What a check must read before it passes. */
export type CheckExpect =
  /** These bytes appear somewhere in what the backend sent. */
  | { readonly kind: 'substring'; readonly bytes: Buffer }
  /** The regex matches the latin1 text of what the backend sent (one char per byte). */
  | { readonly kind: 'regex'; readonly re: RegExp };

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = { r: 0x0d, n: 0x0a, t: 0x09, '\\': 0x5c };

/** `--health-send`: decode the escapes into the bytes to write. Throws on a bad escape or an empty string. */
export function parseCheckSend(text: string): Buffer {
  if (text === '') throw new ValueError('the string to send is empty (omit it to send nothing)');
  return decodeEscapes(text);
}

/**
 * `--health-expect`: `/pattern/flags` is a regex (flags among `i m s u v`),
 * anything else a substring with the same escapes as `--health-send`. A
 * substring that must start with `/` and end with `/` plus letters can be
 * written with `\x2f` for its first slash. Throws on an invalid regex.
 */
export function parseCheckExpect(text: string): CheckExpect {
  if (text === '') throw new ValueError('the expected string is empty');
  const m = /^\/(.*)\/([a-z]*)$/s.exec(text);
  if (m === null) return { kind: 'substring', bytes: decodeEscapes(text) };
  const source = m[1] ?? '';
  const flags = m[2] ?? '';
  if (source === '') throw new ValueError('the expected regex is empty');
  // `g` and `y` make RegExp.test stateful (lastIndex), which a check repeated
  // on every chunk must not be; `d` only adds match indices nobody reads.
  const bad = flags.replace(/[imsuv]/g, '');
  if (bad !== '') {
    throw new ValueError(
      `regex flag "${bad}" is not allowed (use i, m, s, u or v); write \\x2f for a leading slash in a substring`,
    );
  }
  try {
    return { kind: 'regex', re: new RegExp(source, flags) };
  } catch (err) {
    throw new ValueError(
      `invalid regex /${source}/${flags}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

/** Print an expectation back the way a user would write it (for logs and the admin API). */
export function formatCheckExpect(expect: CheckExpect): string {
  return expect.kind === 'regex' ? String(expect.re) : formatCheckBytes(expect.bytes);
}

/** Bytes as check-string text: printable ASCII as is, the rest escaped. Inverse of `parseCheckSend`. */
export function formatCheckBytes(bytes: Buffer): string {
  let out = '';
  for (const b of bytes) {
    if (b === 0x0d) out += '\\r';
    else if (b === 0x0a) out += '\\n';
    else if (b === 0x09) out += '\\t';
    else if (b === 0x5c) out += '\\\\';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}

function decodeEscapes(text: string): Buffer {
  const parts: Buffer[] = [];
  let literalStart = 0;
  let i = 0;
  while (i < text.length) {
    if (text[i] !== '\\') {
      i++;
      continue;
    }
    if (i > literalStart) parts.push(Buffer.from(text.slice(literalStart, i), 'utf8'));
    const c = text[i + 1];
    if (c === undefined) throw new ValueError(`trailing backslash at position ${i + 1}`);
    const simple = SIMPLE_ESCAPES[c];
    if (simple !== undefined) {
      parts.push(Buffer.of(simple));
      i += 2;
    } else if (c === 'x') {
      const hex = text.slice(i + 2, i + 4);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
        throw new ValueError(`"\\x${hex}" at position ${i + 1} needs two hex digits (e.g. \\x00)`);
      }
      parts.push(Buffer.of(parseInt(hex, 16)));
      i += 4;
    } else {
      throw new ValueError(
        `unknown escape "\\${c}" at position ${i + 1} (known: \\r \\n \\t \\\\ \\xHH)`,
      );
    }
    literalStart = i;
  }
  if (literalStart < text.length) parts.push(Buffer.from(text.slice(literalStart), 'utf8'));
  return Buffer.concat(parts);
}
