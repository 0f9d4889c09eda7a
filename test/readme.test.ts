import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderFlagTable } from '../src/config/flag-reference.ts';
import { allOptions } from '../src/config/schema.ts';
import { PromMetrics } from '../src/metrics/prom-metrics.ts';
import { parse as parseYaml } from 'yaml';
import { checkShape } from '../src/config/config-file.ts';
import { resolveProxyConfig } from '../src/config/resolve.ts';

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

describe('README examples', () => {
  const blocks = (lang: string): string[] =>
    [...readme.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map(
      (m) => m[1] ?? '',
    );

  it('every YAML config snippet validates', () => {
    const configs = blocks('yaml').filter((b) => b.includes('listeners:'));
    expect(configs.length).toBeGreaterThan(0);
    for (const text of configs) {
      const file = checkShape('README.md', parseYaml(text));
      const config = resolveProxyConfig({ argv: {}, env: {}, file });
      expect(config.listeners.length).toBeGreaterThan(0);
    }
  });

  it('every `headway` proxy command line uses real flags with valid values', () => {
    const specs = new Map(allOptions().map(([, o]) => [o.flag, o]));
    const lines = blocks('sh')
      .join('\n')
      .replace(/\\\n\s*/g, ' ')
      .split('\n')
      .map((l) => l.replace(/#.*$/, '').trim())
      .filter((l) => /^headway --/.test(l));
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) {
      const words = [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map(
        (m) => m[1] ?? m[2] ?? m[3] ?? '',
      );
      const argv: Record<string, unknown> = {};
      for (let i = 1; i < words.length; i++) {
        const flag = (words[i] ?? '').replace(/^--/, '');
        const spec = specs.get(flag);
        expect(spec, `${line}: --${flag}`).toBeDefined();
        if (spec?.boolean === true) {
          argv[flag] = true;
          continue;
        }
        const value = words[++i];
        argv[flag] =
          spec?.repeatable === true
            ? [...((argv[flag] as string[] | undefined) ?? []), value]
            : value;
      }
      // $HEADWAY_ZONE and the like stand for values the reader supplies.
      const given = Object.fromEntries(
        Object.entries(argv).filter(([, v]) => !(typeof v === 'string' && v.startsWith('$'))),
      );
      expect(() => resolveProxyConfig({ argv: given, env: {} }), line).not.toThrow();
    }
  });
});
