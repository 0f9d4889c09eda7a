import { describe, expect, it } from 'vitest';
import { parseConfigText } from './config-file.ts';
import { MASKED, printConfig } from './print-config.ts';
import { resolveProxyConfig } from './resolve.ts';

const FILE = [
  'admin: 127.0.0.1:9901',
  'admin-token: a-very-secret-token-value',
  'log: { format: text, level: debug }',
  'drain-timeout: 90s',
  'listeners:',
  '  - name: redis',
  '    listen: ["[::1]:6379", 127.0.0.1:6380]',
  '    backends: static://127.0.0.1:7000=3,[::1]:7001',
  // Single quotes: the escapes reach the check-string parser as written.
  "    health-send: 'PING\\r\\n'",
  '    health-expect: /^\\+PONG/',
  '    allow: [10.0.0.0/8, "2001:db8::/32"]',
  '    select: [zone=a]',
  '    idle-timeout: 0',
  '  - name: pg',
  '    backends: k8s://db/postgres:5432',
  '    dns-server: [127.0.0.53]',
  '    health-rise: ~',
  '',
].join('\n');

function resolveText(text: string): ReturnType<typeof resolveProxyConfig> {
  return resolveProxyConfig({ argv: {}, env: {}, file: parseConfigText('h.yaml', text) });
}

describe('printConfig', () => {
  it('prints a config file that resolves to the same configuration', () => {
    // Without the token: a masked token is deliberately not a valid one (see the next test).
    const printed = printConfig(resolveText(FILE.replace(/^admin-token: .*\n/m, '')));
    expect(printConfig(resolveText(printed))).toBe(printed);
    expect(printed).toContain('health-expect: /^\\+PONG/');
    expect(printed).toContain('health-send: PING\\r\\n');
    expect(printed).toContain('backends: static://127.0.0.1:7000=3,[::1]:7001');
    expect(printed).toContain('idle-timeout: 0s');
    expect(printed).toContain('log-format: text');
  });

  it('masks the admin token, wherever it came from', () => {
    const printed = printConfig(resolveText(FILE));
    expect(printed).not.toContain('a-very-secret-token-value');
    expect(printed).toContain(`admin-token: "${MASKED}"`);
    const fromEnv = resolveProxyConfig({
      argv: { backends: 'static://127.0.0.1:1' },
      env: { HEADWAY_ADMIN_TOKEN: 'from-the-environment-0123' },
    });
    expect(printConfig(fromEnv)).not.toContain('from-the-environment');
  });
});
