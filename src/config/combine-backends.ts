import { parseBackendsUri, type BackendsSpec } from './backends-uri.ts';
import { ValueError } from '../core/errors.ts';

/**
 * `--backends` given more than once (HAProxy users write one `server` a line): static lists merge
 * into one, as if written comma-separated, so an address listed twice is still refused. A
 * listener has one discovery source, so anything else (two sources, or static mixed with one) is
 * refused rather than one of them silently winning.
 */
export function combineBackends(specs: readonly (BackendsSpec | null)[]): BackendsSpec | null {
  const given = specs.filter((s) => s !== null);
  if (given.length <= 1) return given[0] ?? null;
  const other = given.find((s) => s.scheme !== 'static');
  if (other !== undefined) {
    throw new ValueError(
      `a listener takes one discovery source, got ${given.map((s) => s.uri).join(' and ')}: repeat --backends only with static:// lists (they merge); put other sources in separate listeners of a config file`,
    );
  }
  const lists = given.map((s) => s.uri.trim().replace(/^static:\/\//i, ''));
  return parseBackendsUri(`static://${lists.join(',')}`);
}
