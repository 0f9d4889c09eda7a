import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderFlagTable } from '../src/config/flag-reference.ts';
import { allOptions } from '../src/config/schema.ts';
import { PromMetrics } from '../src/metrics/prom-metrics.ts';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** Prettier pads table cells; compare tables with the padding folded away. */
function fold(markdown: string): string {
  return markdown.replace(/[ \t]*\|[ \t]*/g, '|').replace(/-{3,}/g, '---');
}

describe('README', () => {
  it('carries the flag table generated from the option schema (run `npm run docs`)', () => {
    expect(fold(readme)).toContain(fold(renderFlagTable()));
  });

  it('names every flag', () => {
    for (const [, spec] of allOptions()) expect(readme).toContain(`--${spec.flag}`);
  });

  it('lists every metric the proxy exports', async () => {
    const names = (
      await new PromMetrics({ processMetrics: false }).registry.getMetricsAsJSON()
    ).map((m) => m.name);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(readme).toContain(`\`${name}{`);
  });
});
