/**
 * Every flag, metric, outcome, backend state, access-log field and src/ folder the docs name
 * exists in the code, and the generated flag table matches the option schema.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACCESS_LOG_FIELDS } from '../../src/access-log/access-record.ts';
import { OUTCOMES } from '../../src/core/outcome.ts';
import { FLAG_TABLE_PAGE, renderFlagTable } from '../../src/config/flag-reference.ts';
import { allOptions } from '../../src/config/schema.ts';
import { PromMetrics } from '../../src/metrics/prom-metrics.ts';
import { benchCommand } from '../../src/cli/bench-command.ts';
import { importCommand } from '../../src/cli/import-command.ts';
import { BACKEND_STATES } from '../../src/backends/backend.ts';
import { SUBCOMMANDS, allHeadwayFlags } from './commands.ts';
import { REPO, page, pages, prose, tables, type Page } from './pages.ts';

/**
 * Flags of other programs (or typos) that the docs name on purpose, with their owner. A Headway flag that
 * is renamed or removed cannot hide here: each entry must be foreign.
 */
const FOREIGN_FLAGS: Readonly<Record<string, string>> = {
  check: 'scripts/test-deps',
  flag: 'a placeholder: --flag=value',
  as: 'kubectl auth can-i',
  'build-arg': 'docker build',
  'read-only': 'docker run',
  'ignore-scripts': 'npm ci',
  omit: 'npm ci',
  baseline: 'bench/compare',
  runs: 'bench/compare, bench/workers.ts',
  seconds: 'bench/compare, bench/workers.ts, bench/per-connection-profile',
  root: 'bench/per-connection-profile',
  idle: 'bench/compare, bench/workers.ts',
  dist: 'bench/workers.ts',
  out: 'bench/workers.ts',
  concurrency: 'Envoy',
  'tcp-services-configmap': 'ingress-nginx',
  replicaof: 'redis-server',
  short: 'git rev-parse --short=12',
  'listen-metrics-urls': 'etcd',
  backend: 'a typo on purpose: the "did you mean --backends?" example',
};

/** `headway_…` metric names: the registry's, and those src/ registers elsewhere (worker threads). */
async function metricNames(): Promise<Set<string>> {
  const registry = await new PromMetrics({ processMetrics: false }).registry.getMetricsAsJSON();
  const names = new Set(registry.map((m) => m.name));
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? walk(join(dir, e.name))
        : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')
          ? [join(dir, e.name)]
          : [],
    );
  for (const file of walk(join(REPO, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/name: '(headway_[a-z_]+)'/g))
      names.add(m[1] ?? '');
  }
  return names;
}

/**
 * Backend states: the one reported state of `/backends`, the status page and `headway_backends`
 * (BACKEND_STATES in backends/backend.ts folds discovery, maintenance, health and ejection).
 */
function backendStates(): Set<string> {
  return new Set(BACKEND_STATES);
}

/** First-column names of the tables whose first header is `title`. */
function tableNames(p: Page, title: string): string[] {
  return tables(p)
    .filter((t) => t.header[0] === title)
    .flatMap((t) => t.rows.map((r) => (r[0] ?? '').replace(/`/g, '').replace(/\/$/, '')));
}

/** Prettier pads table cells; compare tables with the padding folded away. */
function fold(markdown: string): string {
  return markdown.replace(/[ \t]*\|[ \t]*/g, '|').replace(/-{3,}/g, '---');
}

const all = pages();

describe('flags named in the docs', () => {
  const known = allHeadwayFlags();

  it('exist in the schema or a subcommand (or are listed as another program’s)', () => {
    const unknown: string[] = [];
    for (const p of all) {
      for (const m of prose(p).matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)) {
        const flag = m[1] ?? '';
        if (!known.has(flag) && FOREIGN_FLAGS[flag] === undefined)
          unknown.push(`${p.path}: --${flag}`);
      }
    }
    expect(unknown).toEqual([]);
  });

  it('the foreign list holds no Headway flag', () => {
    expect(Object.keys(FOREIGN_FLAGS).filter((f) => known.has(f))).toEqual([]);
  });
});

describe(`the flag reference (${FLAG_TABLE_PAGE})`, () => {
  const text = page(FLAG_TABLE_PAGE).text;

  it('carries the table generated from the option schema (run `npm run docs`)', () => {
    expect(fold(text)).toContain(fold(renderFlagTable()));
  });

  it('names every flag', () => {
    for (const [, spec] of allOptions()) expect(text).toContain(`--${spec.flag}`);
  });
});

describe('metrics named in the docs', () => {
  it('exist', async () => {
    const names = await metricNames();
    const unknown: string[] = [];
    for (const p of all) {
      for (const m of p.text.matchAll(/(?<![\w#-])headway_[a-z_]+/g)) {
        const name = m[0].replace(/_(bucket|sum|count)$/, '');
        if (!names.has(name) && !names.has(m[0])) unknown.push(`${p.path}: ${m[0]}`);
      }
    }
    expect(unknown).toEqual([]);
  });

  it('every metric is in the table of docs/operations.md', async () => {
    const listed = tableNames(page('docs/operations.md'), 'Metric').map((n) =>
      n.replace(/\{.*$/, ''),
    );
    for (const name of await metricNames()) expect(listed).toContain(name);
  });
});

describe('outcomes and states', () => {
  const operations = page('docs/operations.md');

  it('the outcome table lists exactly the outcomes of src/core/outcome.ts', () => {
    expect(tableNames(operations, 'Outcome').sort()).toEqual([...OUTCOMES].sort());
  });

  it('the state table lists exactly the backend states', () => {
    const states = backendStates();
    expect(states).toContain('maintenance');
    expect(tableNames(operations, 'State').sort()).toEqual([...states].sort());
  });

  it('every outcome or state table in any page names real ones', () => {
    const states = backendStates();
    for (const p of all) {
      for (const name of tableNames(p, 'Outcome'))
        expect(OUTCOMES, `${p.path}: ${name}`).toContain(name);
      for (const name of tableNames(p, 'State'))
        expect([...states], `${p.path}: ${name}`).toContain(name);
    }
  });

  it('the access-log table lists exactly the fields of an access-log line', () => {
    expect(tableNames(operations, 'Field')).toEqual(ACCESS_LOG_FIELDS.map((f) => f.name));
  });
});

describe('docs/architecture.md', () => {
  it('describes every folder of src/, and no other', () => {
    const folders = readdirSync(join(REPO, 'src'), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    expect(folders.length).toBeGreaterThan(10);
    expect(tableNames(page('docs/architecture.md'), 'Folder').sort()).toEqual(folders);
  });
});

describe('commands', () => {
  /** The commands src/cli/cli.ts declares, by name. */
  function cliCommands(): string[] {
    const cli = readFileSync(join(REPO, 'src/cli/cli.ts'), 'utf8');
    const named = [...cli.matchAll(/\.command\(\s*(?:\[\s*)?'([a-z-]+)/g)].map((m) => m[1] ?? '');
    const modules = [...cli.matchAll(/\.command\(([a-zA-Z]+)\)/g)].map((m) => m[1] ?? '');
    expect(modules).toEqual(['benchCommand', 'importCommand']);
    return [
      ...named,
      ...[benchCommand, importCommand].map((c) => String(c.command).split(' ')[0] ?? ''),
    ];
  }

  it('the checker knows every command of the CLI', () => {
    expect(cliCommands().sort()).toEqual([...SUBCOMMANDS].sort());
  });

  it('docs/configuration.md lists every command', () => {
    const listed = tableNames(page('docs/configuration.md'), 'Command').map(
      (c) => /^headway (?:\[?([a-z-]+))/.exec(c)?.[1] ?? c,
    );
    expect(listed.sort()).toEqual([...SUBCOMMANDS].sort());
  });

  it('the README counts them right', () => {
    const count = ['no', 'one', 'two', 'three', 'four', 'five', 'six', 'seven'][SUBCOMMANDS.length];
    expect(page('README.md').text).toContain(`${count ?? ''} commands:`);
  });
});
