/**
 * Equality of resolved option values, for reload: which options changed.
 *
 * `JSON.stringify` is not equality here: a `RegExp` (`--health-expect
 * /re/`) serialises as `{}`, so a changed regex looked unchanged, and a
 * `Buffer` serialises through `toJSON`, which happens to work but says
 * nothing about the next type the schema grows. This compares exactly the
 * value types the option schema produces: primitives, null, arrays, plain
 * records (HostPort, Cidr, Selector, BackendsSpec, CheckExpect), `Buffer`
 * and `RegExp`. Any other object is equal only to itself, so an unknown
 * type reads as "changed" (a reload that rebuilds too much), never as
 * "unchanged" (a reload that silently applies nothing).
 */
export function settingsEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b))
    return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  if (a instanceof RegExp || b instanceof RegExp)
    return (
      a instanceof RegExp && b instanceof RegExp && a.source === b.source && a.flags === b.flags
    );
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => settingsEqual(x, b[i]));
  }
  if (!isPlainRecord(a) || !isPlainRecord(b)) return false;
  const ka = Object.keys(a).filter((k) => a[k] !== undefined);
  const kb = Object.keys(b).filter((k) => b[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && settingsEqual(a[k], b[k]));
}

/** The keys of two settings records whose values differ, in the order of `next`. */
export function changedKeys<T extends object>(running: T, next: T): (keyof T & string)[] {
  const keys = new Set([...Object.keys(next), ...Object.keys(running)]) as Set<keyof T & string>;
  return [...keys].filter((k) => !settingsEqual(running[k], next[k]));
}

function isPlainRecord(v: object): v is Record<string, unknown> {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}
