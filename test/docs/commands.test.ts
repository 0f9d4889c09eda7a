/**
 * Every `headway …` command line in a `sh` block of the docs is one the CLI accepts (flags exist
 * for that command, values parse), and every YAML config example validates.
 */
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { checkShape } from '../../src/config/config-file.ts';
import { resolveProxyConfig } from '../../src/config/resolve.ts';
import { SUBCOMMANDS, commandProblem, headwayInvocations } from './commands.ts';
import { codeBlocks, pages } from './pages.ts';

const blocks = pages().flatMap((p) => codeBlocks(p));

describe('headway command lines in the docs', () => {
  const invocations = blocks
    .filter((b) => b.lang === 'sh')
    .flatMap((b) =>
      headwayInvocations(b.body).map((words) => ({ at: `${b.page}:${b.line}`, words })),
    );

  it('are many, and cover every command', () => {
    expect(invocations.length).toBeGreaterThan(30);
    const used = new Set(
      invocations.map((i) => SUBCOMMANDS.find((c) => c === i.words[0]) ?? 'proxy'),
    );
    expect([...used].sort()).toEqual([...SUBCOMMANDS].sort());
  });

  it.each(invocations.map((i) => [`${i.at} headway ${i.words.join(' ')}`, i.words] as const))(
    '%s',
    (_, words) => {
      expect(commandProblem(words)).toBeUndefined();
    },
  );
});

describe('the command-line checker', () => {
  it('refuses what the CLI refuses', () => {
    expect(
      commandProblem(['--listen', ':6379', '--backends', 'static://a:1', '--nope', 'x']),
    ).toMatch(/unknown --nope/);
    expect(commandProblem(['--listen', ':70000', '--backends', 'static://a:1'])).toMatch(/70000/);
    expect(commandProblem(['--backends', 'static://a:1', '--strategy', 'fastest'])).toBeDefined();
    expect(commandProblem(['echo', '--delay', '20'])).toBeDefined();
    expect(commandProblem(['echo', '--target', 'a:1'])).toMatch(/unknown --target/);
    expect(commandProblem(['demo', '--backends', 'static://a:1'])).toMatch(/unknown --backends/);
    expect(commandProblem(['bench', 'rr', '--target', 'a:1', '--rate', 'fast'])).toMatch(/--rate/);
    expect(commandProblem(['bench', 'ping', '--target', 'a:1'])).toBeDefined();
    expect(commandProblem(['check-config'])).toBeDefined();
  });

  it('accepts placeholders and the help flags', () => {
    expect(
      commandProblem(['--backends', 'k8s://redis', '--zone', '$HEADWAY_ZONE']),
    ).toBeUndefined();
    expect(commandProblem(['bench', '--help'])).toBeUndefined();
    expect(commandProblem(['--version'])).toBeUndefined();
  });

  it('finds headway behind taskset, continuation lines and comments', () => {
    const found = headwayInvocations(
      'taskset -c 1 headway --listen :1 \\\n  --backends static://a:1 &  # note\ncurl -s x | headway\n',
    );
    expect(found).toEqual([['--listen', ':1', '--backends', 'static://a:1']]);
  });
});

describe('YAML config examples in the docs', () => {
  const configs = blocks.filter((b) => b.lang === 'yaml' && /^listeners:/m.test(b.body));

  it('exist', () => {
    expect(configs.length).toBeGreaterThan(1);
  });

  it.each(configs.map((b) => [`${b.page}:${b.line}`, b.body] as const))(
    '%s validates',
    (at, body) => {
      const file = checkShape(at, parseYaml(body));
      const config = resolveProxyConfig({ argv: {}, env: {}, file });
      expect(config.listeners.length).toBeGreaterThan(0);
    },
  );
});
