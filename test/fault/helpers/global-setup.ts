import { buildDist } from './fault-kit.ts';

/** Compile `src/` once per fault run, so every test measures the current code. */
export default function setup(): void {
  buildDist();
}
