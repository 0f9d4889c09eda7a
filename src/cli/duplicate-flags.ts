/**
 * yargs keeps the last of a repeated one-value flag, and folds `--x --no-x` into one boolean:
 * input dropped without a word. This scan of the raw arguments finds a flag given twice that may
 * not be, whatever its type, before yargs sees them.
 */

/** `--idleTimeout` (yargs accepts camel case too) → `idle-timeout`. */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * The first flag given more than once among `known` flags that are not `repeatable`, or
 * undefined. `--no-X` counts as X when X is known. Scanning stops at `--`; arguments that are
 * values of the previous flag never look like `--flag` in practice (a value starting with `--`
 * would be taken as a flag by yargs too).
 */
export function findRepeatedFlag(
  args: readonly string[],
  known: ReadonlySet<string>,
  repeatable: ReadonlySet<string>,
): string | undefined {
  const seen = new Set<string>();
  for (const arg of args) {
    if (arg === '--') break;
    const m = /^--([^=]+)/.exec(arg);
    if (m === null) continue;
    let name = kebab(m[1] ?? '');
    if (!known.has(name) && name.startsWith('no-') && known.has(name.slice(3)))
      name = name.slice(3);
    if (!known.has(name) || repeatable.has(name)) continue;
    if (seen.has(name)) return name;
    seen.add(name);
  }
  return undefined;
}
