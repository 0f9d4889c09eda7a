/**
 * `headway import haproxy|nginx` side by side with the original: the same config runs in the real
 * HAProxy / NGINX and, converted, in Headway, in front of the same backends; the same clients must
 * be answered by the same backends (or refused by both).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHeadway, spawnHeadway, type HeadwayProcess } from '../helpers/headway-process.ts';
import {
  NGINX_STREAM_MODULE,
  requireNginxStream,
  requireProgram,
} from '../helpers/required-programs.ts';
import {
  eventually,
  freePortRange,
  identify,
  startWhoami,
  type Backend,
} from '../helpers/sockets.ts';

const FIXTURES = new URL('../fixtures/import/', import.meta.url);
const BACKEND_HOSTS = ['127.0.0.11', '127.0.0.12', '127.0.0.13', '127.0.0.14', '127.0.0.15'];
const LISTENERS = ['RR', 'GUARDED', 'HASHED'] as const;
type ListenerKey = (typeof LISTENERS)[number];

/** Who answers `count` connections, one after the other, from `client`. */
async function answers(port: number, client: string, count = 8): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(await identify(port, { localAddress: client }));
  return out;
}

const distinct = (xs: readonly string[]): string[] => [...new Set(xs)].sort();

function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/@([A-Z]+)@/g, (_, k: string) => String(values[k] ?? `@${k}@`));
}

async function portsFor(): Promise<Record<ListenerKey, number>> {
  const base = await freePortRange(LISTENERS.length);
  return { RR: base, GUARDED: base + 1, HASHED: base + 2 };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

async function startOriginal(cmd: string, args: string[], ports: number[]): Promise<ChildProcess> {
  const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (c: Buffer) => (err += c.toString()));
  await eventually(
    async () => {
      if (p.exitCode !== null) throw new Error(`${cmd} exited: ${err}`);
      for (const port of ports) if (!(await listening(port))) return undefined;
      return true;
    },
    10_000,
    50,
  );
  return p;
}

/** Converts `source` with the CLI, checks it with check-config, and runs it. */
async function startConverted(
  format: string,
  source: string,
  dir: string,
): Promise<HeadwayProcess> {
  const converted = await runHeadway(['import', format, source]);
  expect(converted.stderr).toBe('');
  expect(converted.code).toBe(0);
  const yaml = join(dir, `${format}.headway.yaml`);
  writeFileSync(yaml, converted.stdout);
  const checked = await runHeadway(['check-config', yaml]);
  expect(checked.stderr).toBe('');
  expect(checked.code).toBe(0);
  const p = spawnHeadway(['--config', yaml, '--admin', 'off', '--log-level', 'info']);
  // Generous: the start-up of three listeners on a loaded two-core machine.
  await eventually(
    () =>
      p.logs.filter((l) => l.msg === 'listener started').length === LISTENERS.length || undefined,
    30_000,
    50,
  );
  return p;
}

/** The same clients against both: equal sets of answering backends per listener. */
async function compare(
  original: Record<ListenerKey, number>,
  converted: Record<ListenerKey, number>,
): Promise<void> {
  for (const client of ['127.0.0.1', '127.0.0.2']) {
    for (const key of LISTENERS) {
      const before = await answers(original[key], client);
      const after = await answers(converted[key], client);
      if (key === 'HASHED') {
        // Both hash the client address onto one backend; the hash functions differ, so which
        // one is not compared, only that a client always lands on the same one.
        expect(distinct(before), `${key} from ${client}`).toHaveLength(1);
        expect(distinct(after), `${key} from ${client}`).toHaveLength(1);
      } else {
        expect(distinct(after), `${key} from ${client}`).toEqual(distinct(before));
      }
    }
  }
}

describe('headway import, side by side with the original proxy', () => {
  const backends: Backend[] = [];
  let port = 0;
  let dir = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'headway-import-'));
    const first = await startWhoami(BACKEND_HOSTS[0] as string);
    backends.push(first);
    port = first.port;
    for (const host of BACKEND_HOSTS.slice(1)) backends.push(await startWhoami(host, port));
  });

  afterAll(async () => {
    await Promise.all(backends.map((b) => b.close()));
  });

  it('HAProxy: round-robin without backup or disabled servers, a src ACL, source hashing', async () => {
    requireProgram('haproxy');
    const template = readFileSync(new URL('side-by-side.haproxy.cfg', FIXTURES), 'utf8');
    const ours = await portsFor();
    const theirs = await portsFor();
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(cfg, fill(template, { ...theirs, B: port }));
    const source = join(dir, 'for-headway.cfg');
    writeFileSync(source, fill(template, { ...ours, B: port }));
    const haproxy = await startOriginal('haproxy', ['-db', '-f', cfg], Object.values(theirs));
    const headway = await startConverted('haproxy', source, dir);
    try {
      expect(distinct(await answers(theirs.RR, '127.0.0.1'))).toEqual(['127.0.0.11', '127.0.0.12']);
      expect(distinct(await answers(theirs.GUARDED, '127.0.0.2'))).toEqual(['closed']);
      await compare(theirs, ours);
    } finally {
      haproxy.kill('SIGKILL');
      await headway.stop();
    }
  });

  it('NGINX stream: weights, backup and down servers, allow/deny, consistent hash', async () => {
    requireNginxStream();
    const template = readFileSync(new URL('side-by-side.nginx.conf', FIXTURES), 'utf8');
    const ours = await portsFor();
    const theirs = await portsFor();
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      fill(template, { ...theirs, B: port, MODULE: NGINX_STREAM_MODULE, DIR: dir }),
    );
    const source = join(dir, 'for-headway.conf');
    writeFileSync(
      source,
      fill(template, { ...ours, B: port, MODULE: NGINX_STREAM_MODULE, DIR: dir }),
    );
    const nginx = await startOriginal('nginx', ['-c', conf, '-p', dir], Object.values(theirs));
    const headway = await startConverted('nginx', source, dir);
    try {
      expect(distinct(await answers(theirs.RR, '127.0.0.1'))).toEqual(['127.0.0.11', '127.0.0.12']);
      expect(distinct(await answers(theirs.GUARDED, '127.0.0.2'))).toEqual(['closed']);
      await compare(theirs, ours);
    } finally {
      nginx.kill('SIGKILL');
      await once(nginx, 'exit');
      await headway.stop();
    }
  });
});
