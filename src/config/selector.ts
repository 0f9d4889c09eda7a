import { ValueError } from '../core/errors.ts';

export const SELECTOR_KEYS = ['pod', 'hostname', 'zone', 'node', 'address'] as const;
export type SelectorKey = (typeof SELECTOR_KEYS)[number];

/** `--select KEY=VALUE`: keep only endpoints whose KEY is VALUE. */
export interface Selector {
  readonly key: SelectorKey;
  readonly value: string;
}

export function parseSelector(text: string): Selector {
  const eq = text.indexOf('=');
  if (eq <= 0 || eq === text.length - 1) throw new ValueError(`"${text}" is not KEY=VALUE`);
  const key = text.slice(0, eq).trim();
  const value = text.slice(eq + 1).trim();
  const known = SELECTOR_KEYS.find((k) => k === key);
  if (known === undefined) {
    throw new ValueError(`unknown key "${key}" (expected one of: ${SELECTOR_KEYS.join(', ')})`);
  }
  return { key: known, value };
}
