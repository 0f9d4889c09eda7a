/**
 * Defect (issue 16 item 12): `--help` did not list the allowed values of enum flags, named only
 * static:// for --backends, had no examples, and a mistyped flag or command, or `--listen 6379`,
 * got no hint. Now every enum flag lists its values, --backends lists every scheme with an
 * example, there is an `Examples:` block, and typos get "did you mean …?".
 */
import { describe, expect, it } from 'vitest';
import { runHeadway } from '../helpers/headway-process.ts';

/** Help text with yargs' line wrapping undone. */
function unwrapped(text: string): string {
  return text.replace(/\s+/g, ' ');
}

describe('help and hints', () => {
  it('--help lists enum values, every --backends scheme and examples', async () => {
    const r = await runHeadway(['--help']);
    expect(r.code).toBe(0);
    const help = unwrapped(r.stdout);
    expect(help).toContain('least-conn|round-robin|random|sticky|latency|primary');
    expect(help).toContain('json|text');
    expect(help).toContain('debug|info|warn|error');
    expect(help).toContain('auto|tcp|http|none');
    expect(help).toContain('off|v1|v2');
    for (const scheme of ['static://', 'dns://', 'srv://', 'k8s://'])
      expect(help).toContain(scheme);
    expect(help).toMatch(/e\.g\. k8s:\/\/\S+/);
    expect(r.stdout).toMatch(/^Examples:$/m);
  });

  it('a mistyped flag gets "did you mean"', async () => {
    const r = await runHeadway(['--backend', 'static://127.0.0.1:9', '--admin', 'off']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown flag --backend.*did you mean --backends\?/);
  });

  it('a mistyped command gets "did you mean"', async () => {
    const r = await runHeadway(['chek-config', 'x.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/did you mean check-config\?/);
  });

  it('--listen 6379 suggests :6379', async () => {
    const r = await runHeadway(['--listen', '6379', '--backends', 'static://127.0.0.1:9']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^headway: --listen: .*:6379/);
  });
});
