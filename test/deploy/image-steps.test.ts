/**
 * The Dockerfile, without a Docker engine: it lints clean (dockerfile-utils), its stages have the
 * intended shape, and the final image is replayed in a temporary folder. The `deps` stage's RUN
 * commands run as written (npm ci from the npm registry), the `build` stage's tsc writes dist/,
 * the final stage's COPY lines assemble the image tree, which is then made read-only; the
 * ENTRYPOINT runs as the image's USER with Node 24, proxies one connection to an echo backend,
 * answers the admin endpoint, and exits 0 on SIGTERM.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  DockerfileParser,
  JSONInstruction,
  ModifiableInstruction,
  Property,
  PropertyInstruction,
  type Instruction,
} from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenerOptions, processOptions } from '../../src/config/schema.ts';
import { connectTo, readAll, startEcho, type Backend } from '../helpers/sockets.ts';

const execFileAsync = promisify(execFile);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DOCKERFILE = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
const PACKAGE = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  version: string;
  license: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

const LOCK = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, Record<string, unknown>>;
};

// ---------------------------------------------------------------------------------------------
// The Dockerfile as stages

interface Stage {
  readonly name: string | undefined;
  /** The FROM image, ARG defaults substituted. */
  readonly image: string;
  readonly instructions: Instruction[];
}

const parsed = DockerfileParser.parse(DOCKERFILE);

/** Defaults of the ARGs before the first FROM (what `${NODE_IMAGE}` means in FROM lines). */
const globalArgs = new Map<string, string>(
  parsed
    .getInitialARGs()
    .flatMap((a) => a.getProperties())
    .map((p: Property) => [p.getName(), p.getValue() ?? '']),
);

function expand(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a?: string, b?: string) => {
    return vars.get(a ?? b ?? '') ?? whole;
  });
}

const STAGES: Stage[] = [];
for (const instruction of parsed.getInstructions()) {
  if (instruction.getKeyword() === 'FROM') {
    const args = instruction.getArguments().map((a) => a.getValue());
    const as = args.findIndex((a) => a.toUpperCase() === 'AS');
    STAGES.push({
      name: as >= 0 ? args[as + 1] : undefined,
      image: expand(args[0] ?? '', globalArgs),
      instructions: [],
    });
  } else {
    STAGES.at(-1)?.instructions.push(instruction);
  }
}

function stage(name: string | undefined): Stage {
  const s = name === undefined ? STAGES.at(-1) : STAGES.find((x) => x.name === name);
  if (s === undefined) throw new Error(`no stage ${name ?? '(final)'}`);
  return s;
}

function only(s: Stage, keyword: string): Instruction[] {
  return s.instructions.filter((i) => i.getKeyword() === keyword);
}

function args(i: Instruction): string[] {
  return i.getArguments().map((a) => a.getValue());
}

function flag(i: Instruction, name: string): string | undefined {
  if (!(i instanceof ModifiableInstruction)) return undefined;
  return (
    i
      .getFlags()
      .find((f) => f.getName() === name)
      ?.getValue() ?? undefined
  );
}

function workdir(s: Stage): string {
  const w = only(s, 'WORKDIR').at(-1);
  return w === undefined ? '/' : (args(w)[0] ?? '/');
}

function unquote(value: string | null): string {
  return (value ?? '').replace(/^"(.*)"$/s, '$1');
}

/** A RUN line as argv: it must be one plain command, so that it runs here exactly as written. */
function runArgv(i: Instruction): string[] {
  const argv = args(i);
  const shellish = argv.find((a) => /[;&|<>`$()]/.test(a));
  if (shellish !== undefined) throw new Error(`RUN "${argv.join(' ')}" is not a plain command`);
  return argv;
}

const FINAL = stage(undefined);
const USER = (() => {
  const u = only(FINAL, 'USER').at(-1);
  return u === undefined ? null : /^(\d+)(?::(\d+))?$/.exec(args(u)[0] ?? '');
})();
const ENTRYPOINT = (() => {
  const e = only(FINAL, 'ENTRYPOINT').at(-1);
  return e instanceof JSONInstruction ? e.getJSONStrings().map((s) => s.getJSONValue()) : [];
})();

/** The proxy and admin ports the CLI uses when not told otherwise. */
const DEFAULT_LISTEN_PORT = Number(/:(\d+)$/.exec(listenerOptions.listen.defaultText)?.[1]);
const DEFAULT_ADMIN_PORT = processOptions.admin.default?.port;

describe('Dockerfile', () => {
  it('lints clean with dockerfile-utils (no errors, no warnings)', () => {
    expect(validate(DOCKERFILE)).toEqual([]);
    // Control: the linter does report problems.
    expect(validate('FROM node:24-slim\nEXPOSE 80/tcpx\n').length).toBeGreaterThan(0);
  });

  it('builds with dev dependencies, installs production ones apart, ships Node 24 with both', () => {
    expect(STAGES.map((s) => s.name)).toEqual(['build', 'deps', undefined]);
    for (const s of STAGES) expect(s.image).toMatch(/^node:24-slim$|distroless\/nodejs24/);
    const build = only(stage('build'), 'RUN').map((r) => args(r).join(' '));
    expect(build[0]).toMatch(/^npm ci\b.*--ignore-scripts/);
    expect(build.at(-1)).toMatch(/\btsc -p tsconfig\.build\.json$/);
    const deps = only(stage('deps'), 'RUN').map((r) => args(r).join(' '));
    expect(deps).toEqual([expect.stringMatching(/^npm ci\b/)]);
    expect(deps[0]).toContain('--omit=dev');
    expect(deps[0]).toContain('--ignore-scripts');
    // Nothing runs in the final stage: no shell is needed to build it (a distroless base works).
    expect(only(FINAL, 'RUN')).toEqual([]);
    const copies = only(FINAL, 'COPY').map(
      (c) => `${flag(c, 'from') ?? 'context'}:${args(c)[0] ?? ''}`,
    );
    expect(copies.sort()).toEqual([
      'build:/app/dist',
      'context:package.json',
      'deps:/app/node_modules',
    ]);
  });

  it('production dependencies need no install scripts and are the same on every platform', () => {
    // What makes `npm ci --omit=dev --ignore-scripts` on the build platform correct for all.
    const risky = Object.entries(LOCK.packages)
      .filter(([path, p]) => path !== '' && p.dev !== true)
      .filter(
        ([, p]) => p.hasInstallScript === true || 'os' in p || 'cpu' in p || p.gypfile === true,
      )
      .map(([path]) => path);
    expect(risky).toEqual([]);
    // Node itself comes from the base image, never from node_modules.
    expect(Object.keys(PACKAGE.dependencies)).not.toContain('node');
    expect(Object.keys(PACKAGE.devDependencies)).toContain('node');
  });

  it('runs as a numeric non-root user, exec-form entrypoint, default ports exposed, OCI labels', () => {
    expect(USER, 'USER must be numeric (UID[:GID]) so runAsNonRoot can verify it').not.toBeNull();
    expect(Number(USER?.[1])).toBeGreaterThan(0);
    expect(Number(USER?.[2] ?? USER?.[1])).toBeGreaterThan(0);
    // Exec form: node is PID 1 and receives SIGTERM itself (no shell in between).
    expect(ENTRYPOINT).toEqual(['node', 'dist/cli/main.js']);
    expect(only(FINAL, 'CMD')).toEqual([]);
    const exposed = only(FINAL, 'EXPOSE').flatMap(args);
    expect(exposed).toEqual(
      expect.arrayContaining([String(DEFAULT_LISTEN_PORT), String(DEFAULT_ADMIN_PORT)]),
    );
    expect(only(FINAL, 'ENV').flatMap(args)).toContain('NODE_ENV=production');

    const labels = new Map(
      only(FINAL, 'LABEL')
        .flatMap((l) => (l instanceof PropertyInstruction ? l.getProperties() : []))
        .map((p) => [p.getName(), unquote(p.getValue())]),
    );
    const stageArgs = new Map(
      only(FINAL, 'ARG')
        .flatMap((a) => (a instanceof PropertyInstruction ? a.getProperties() : []))
        .map((p) => [p.getName(), p.getValue() ?? globalArgs.get(p.getName()) ?? '']),
    );
    const label = (name: string): string =>
      expand(labels.get(`org.opencontainers.image.${name}`) ?? '', stageArgs);
    expect(label('title')).toBe('headway');
    expect(label('description')).not.toBe('');
    expect(label('version')).toBe(PACKAGE.version);
    expect(label('revision')).not.toBe('');
    expect(label('source')).toMatch(/^https:\/\//);
    expect(label('licenses')).toBe(PACKAGE.license);
    expect(label('base.name')).toBe(FINAL.image);
  });

  it('.dockerignore admits everything the Dockerfile copies from the build context', () => {
    const rules = readFileSync(join(REPO, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(rules[0]).toBe('*');
    const admitted = new Set(
      rules.filter((r) => r.startsWith('!')).map((r) => r.slice(1).replace(/\/$/, '')),
    );
    const fromContext = STAGES.flatMap((s) => only(s, 'COPY'))
      .filter((c) => flag(c, 'from') === undefined)
      .flatMap((c) => args(c).slice(0, -1));
    for (const src of fromContext) expect(admitted, src).toContain(src);
  });
});

// ---------------------------------------------------------------------------------------------
// Replaying the image

async function run(cmd: string, argv: readonly string[], cwd: string): Promise<void> {
  try {
    await execFileAsync(cmd, argv, { cwd, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    const output = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim();
    throw new Error(
      `${cmd} ${argv.join(' ')} (in ${cwd}) failed:\n${(output || e.message).slice(0, 4000)}`,
    );
  }
}

/** Copy a stage's context COPY sources into `dir`, which stands for the stage's WORKDIR. */
async function copyFromContext(s: Stage, dir: string): Promise<void> {
  for (const c of only(s, 'COPY').filter((x) => flag(x, 'from') === undefined)) {
    const a = args(c);
    const dest = join(dir, a.at(-1) ?? '.');
    for (const src of a.slice(0, -1)) {
      await cp(
        join(REPO, src),
        a.length > 2 || dest.endsWith('/') ? join(dest, basename(src)) : dest,
        {
          recursive: true,
        },
      );
    }
  }
}

interface Image {
  /** The final stage's WORKDIR, as assembled here. */
  readonly app: string;
  /** Runs a command as the image's USER: setpriv when the tests run as root. */
  readonly asUser: readonly string[];
  readonly node: string;
  readonly env: Readonly<Record<string, string>>;
}

const uid = Number(USER?.[1]);
const gid = Number(USER?.[2] ?? USER?.[1]);
const isRoot = process.getuid?.() === 0;

/** Build the image tree under `root` (a fresh folder the image user can traverse). */
async function assembleImage(root: string): Promise<Image> {
  await chmod(root, 0o755);
  const stageDir = (name: string): string => join(root, 'stages', name);

  // build: the dev dependencies are this checkout's; tsc writes dist/ into the stage's folder.
  const tscRun = only(stage('build'), 'RUN').at(-1);
  const tsc = runArgv(tscRun as Instruction);
  await mkdir(stageDir('build'), { recursive: true });
  const building = run(
    tsc[0] === 'node' ? process.execPath : (tsc[0] ?? ''),
    [...tsc.slice(1), '--outDir', join(stageDir('build'), 'dist')],
    REPO,
  );

  // deps: the stage's COPY and RUN lines as written (npm ci against the registry).
  const installing = (async () => {
    const deps = stage('deps');
    await mkdir(stageDir('deps'), { recursive: true });
    await copyFromContext(deps, stageDir('deps'));
    for (const r of only(deps, 'RUN')) {
      const [cmd = '', ...rest] = runArgv(r);
      await run(cmd, rest, stageDir('deps'));
    }
  })();
  await Promise.all([building, installing]);

  // The final stage: its COPY lines, from the stages' folders or from the context.
  const app = join(root, 'image', workdir(FINAL));
  await mkdir(app, { recursive: true });
  for (const c of only(FINAL, 'COPY')) {
    const from = flag(c, 'from');
    const a = args(c);
    const dest = join(app, a.at(-1) ?? '.');
    for (const src of a.slice(0, -1)) {
      let source = join(REPO, src);
      if (from !== undefined) {
        const base = workdir(stage(from));
        if (!src.startsWith(`${base}/`))
          throw new Error(`COPY --from=${from} ${src}: outside ${base}`);
        source = join(stageDir(from), src.slice(base.length + 1));
      }
      await cp(source, dest.endsWith('/') ? join(dest, basename(src)) : dest, { recursive: true });
    }
  }
  // A read-only root filesystem: nothing in the image is writable, whoever runs it.
  await run('chmod', ['-R', 'a+rX,a-w', join(root, 'image')], root);

  const asUser = isRoot
    ? ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--']
    : [];
  // Node 24 (the base image's); copied next to the image when the user cannot reach ours.
  let node = process.execPath;
  if (isRoot && spawnSync(asUser[0] ?? '', [...asUser.slice(1), node, '-e', '0']).status !== 0) {
    node = join(root, 'bin', 'node');
    await mkdir(join(root, 'bin'));
    await cp(process.execPath, node);
    await chmod(node, 0o755);
  }
  const env: Record<string, string> = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: '/nonexistent',
  };
  for (const e of only(FINAL, 'ENV')) {
    for (const p of e instanceof PropertyInstruction ? e.getProperties() : []) {
      env[p.getName()] = unquote(p.getValue());
    }
  }
  return { app, asUser, node, env };
}

interface LogLine {
  readonly msg?: string;
  readonly [key: string]: unknown;
}

describe.skipIf(USER === null || ENTRYPOINT.length === 0)('image steps (no Docker engine)', () => {
  let root: string | undefined;
  let image: Image | undefined;
  let echo: Backend | undefined;
  const img = (): Image => {
    if (image === undefined) throw new Error('the image was not assembled');
    return image;
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'headway-image-'));
    [image, echo] = await Promise.all([assembleImage(root), startEcho()]);
  }, 180_000);

  afterAll(async () => {
    await echo?.close();
    if (root !== undefined) {
      await run('chmod', ['-R', 'u+w', root], tmpdir());
      await rm(root, { recursive: true, force: true });
    }
  });

  it('holds production dependencies and compiled JavaScript only', () => {
    const { app } = img();
    expect(existsSync(join(app, 'dist/cli/main.js'))).toBe(true);
    expect(existsSync(join(app, 'node_modules/@kubernetes/client-node'))).toBe(true);
    // Packages only the dev dependencies need (the lockfile's `dev: true`) stay out, `node` first.
    const devOnly = Object.entries(LOCK.packages)
      .filter(([path, p]) => p.dev === true && /^node_modules\/(@[^/]+\/)?[^/]+$/.test(path))
      .map(([path]) => path);
    expect(devOnly).toContain('node_modules/node');
    expect(devOnly.filter((path) => existsSync(join(app, path)))).toEqual([]);
    expect(existsSync(join(app, 'src'))).toBe(false);
  });

  it('is read-only to the image user', () => {
    const { app, asUser, node } = img();
    const write = spawnSync(
      asUser[0] ?? node,
      [
        ...asUser.slice(1),
        ...(asUser.length > 0 ? [node] : []),
        '-e',
        "require('node:fs').writeFileSync('dist/probe', 'x')",
      ],
      { cwd: app, encoding: 'utf8' },
    );
    expect(write.status).not.toBe(0);
    expect(write.stderr).toMatch(/EACCES|EROFS|EPERM/);
  });

  it('runs the entrypoint as the image user, proxies a connection, exits 0 on SIGTERM', async () => {
    const { app, asUser, node, env } = img();
    const [, ...entry] = ENTRYPOINT;
    const argv = [
      ...asUser,
      node,
      ...entry,
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      '--backends',
      `static://${echo?.address ?? ''}`,
    ];
    const proc = spawn(argv[0] ?? '', argv.slice(1), {
      cwd: app,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = once(proc, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    let stderr = '';
    proc.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const logs: LogLine[] = [];
    let pending = '';
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) {
        try {
          logs.push(JSON.parse(l) as LogLine);
        } catch {
          logs.push({ msg: l });
        }
      }
    });
    const seen = async (msg: string): Promise<LogLine> => {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const line = logs.find((l) => l.msg === msg);
        if (line !== undefined) return line;
        if (proc.exitCode !== null || Date.now() > deadline) {
          throw new Error(
            `no "${msg}" log line; stderr: ${stderr}; stdout: ${JSON.stringify(logs)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      const [started, admin] = await Promise.all([
        seen('listener started'),
        seen('admin listening'),
      ]);
      if (isRoot) {
        const status = await readFile(`/proc/${String(proc.pid)}/status`, 'utf8');
        expect(status).toMatch(new RegExp(`^Uid:\\s+${uid}\\s`, 'm'));
      }
      const address = (started.addresses as string[])[0] ?? '';
      const port = Number(address.slice(address.lastIndexOf(':') + 1));
      const socket = await connectTo(port);
      const reply = readAll(socket);
      socket.end('hello through the image\n');
      expect((await reply).toString()).toBe('hello through the image\n');

      const adminUrl = `http://${String(admin.address)}`;
      expect((await fetch(`${adminUrl}/readyz`)).status).toBe(200);
      // Counted when the session closes, which may trail the client's view by a moment.
      const counted = /headway_connections_total\{[^}]*outcome="ok"[^}]*\} 1$/m;
      let metrics = '';
      for (let i = 0; i < 100 && !counted.test(metrics); i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 50));
        metrics = await (await fetch(`${adminUrl}/metrics`)).text();
      }
      expect(metrics).toMatch(counted);
    } finally {
      proc.kill('SIGTERM');
    }
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    const [code, signal] = await exited;
    clearTimeout(timer);
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(logs.map((l) => l.msg)).toContain('shutdown complete');
  });
});
