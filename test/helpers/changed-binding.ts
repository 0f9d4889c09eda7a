import type { CommandWrapper } from './headway-process.ts';

/**
 * A Node.js whose internals moved, simulated without any test hook in
 * Headway: a preload module (`node --import`) wraps `process.binding` so
 * that `name` answers with `change` applied (JavaScript run with `b`, the
 * real binding, and `c`, its copy to change). The CLI meets it exactly as
 * it would meet a real change.
 */
export function changedBinding(name: string, change: string): CommandWrapper {
  const source =
    `const real = process.binding.bind(process);` +
    `process.binding = (n) => { const b = real(n); if (n !== ${JSON.stringify(name)}) return b;` +
    ` const c = { ...b }; ${change}; return c; };`;
  const preload = `data:text/javascript,${encodeURIComponent(source)}`;
  return (argv) => [argv[0] ?? process.execPath, '--import', preload, ...argv.slice(1)];
}

/** `tcp_wrap.TCP` without `writeBuffer`. */
export const WITHOUT_WRITE_BUFFER = changedBinding(
  'tcp_wrap',
  `c.TCP = class extends b.TCP {}; Object.defineProperty(c.TCP.prototype, 'writeBuffer', { value: undefined })`,
);

/** Reads leave their byte count somewhere else: the `streamBaseState` Headway reads is never written. */
export const STALE_STREAM_STATE = changedBinding(
  'stream_wrap',
  `c.streamBaseState = new Int32Array(b.streamBaseState.length)`,
);
