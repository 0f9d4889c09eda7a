import { readFileSync } from 'node:fs';
import { errorMessage, ValueError } from '../core/errors.ts';

/** `--admin-auth`: which admin paths need the token (see admin/admin-auth.ts). */
export type AdminAuthMode = 'control' | 'all';
export const ADMIN_AUTH_MODES: readonly AdminAuthMode[] = ['control', 'all'];

/** Shortest token accepted: 16 bytes, 128 bits if random (`openssl rand -hex 16` gives 32). */
export const MIN_TOKEN_BYTES = 16;

/** Check a token's length (bytes, not characters); throws a message for ValueError/ConfigError. */
export function checkTokenText(token: string): string {
  if (Buffer.byteLength(token, 'utf8') < MIN_TOKEN_BYTES) {
    throw new ValueError(
      `must be at least ${MIN_TOKEN_BYTES} bytes (e.g. generate one with: openssl rand -hex 16)`,
    );
  }
  if (/[\s]/.test(token)) throw new ValueError('must not contain white space');
  return token;
}

/** Read a token file: its content without the trailing newline. The message never includes the content. */
export function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ValueError(`cannot read ${path}: ${errorMessage(err)}`, { cause: err });
  }
  return checkTokenText(text.replace(/\r?\n$/, ''));
}
