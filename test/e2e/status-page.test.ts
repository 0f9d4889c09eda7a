import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../helpers/headway-process.ts';
import { requireProgram } from '../helpers/required-programs.ts';
import { connectTo, eventually, readAll, startEcho, type Backend } from '../helpers/sockets.ts';
import { backendsReport } from '../kit/backends-report.ts';

/**
 * The status page (`GET /` on the admin port) in headless Chromium (Debian
 * `chromium`, driven by playwright-core) against a running proxy with three
 * backends: what it shows (build, uptime, UTC times, rates, errors, time in
 * state), its own refresh noticing a backend going down, the drain/undrain
 * buttons going through the admin API's control path, no sideways
 * scrolling at 1280 px, the phone layout, and the error banner once the
 * proxy is gone.
 *
 * Screenshots go to test-results/; `UPDATE_SCREENSHOTS=1` also writes the
 * desktop one to docs/status-page.png (the README's picture).
 */

const CHROMIUM = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RESULTS = join(ROOT, 'test-results');
const DESKTOP = { width: 1280, height: 720 };
const PHONE = { width: 390, height: 844 };

/** The few DOM members the in-page callbacks touch (the project compiles without the DOM lib). */
interface Dom {
  marker?: number;
  document: {
    documentElement: { scrollWidth: number; clientWidth: number };
    getElementById(id: string): { getBoundingClientRect(): { bottom: number } } | null;
    querySelectorAll(selector: string): ArrayLike<{ scrollWidth: number; clientWidth: number }>;
  };
  getComputedStyle(element: unknown, pseudo: string): { content: string };
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

describe('status page in headless Chromium', () => {
  let a: Backend;
  let b: Backend;
  let c: Backend;
  let proxy: RunningProxy;
  let userDataDir: string;
  let context: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];
  const requested: string[] = [];

  beforeAll(async () => {
    requireProgram('chromium');
    a = await startEcho();
    b = await startEcho();
    c = await startEcho();
    proxy = await startProxy([
      '--health-check',
      'tcp',
      '--health-interval',
      '200ms',
      '--health-fall',
      '1',
      '--health-rise',
      '1',
      '--backends',
      `static://${a.address},${b.address},${c.address}`,
    ]);
    userDataDir = await mkdtemp(join(tmpdir(), 'headway-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: DESKTOP,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        // Nothing leaves loopback: names other than localhost do not resolve, and
        // whatever is not loopback goes to a proxy port nobody listens on.
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
        '--proxy-server=127.0.0.1:9',
      ],
    });
    // And the page itself may only talk to the admin endpoint.
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      return LOOPBACK.has(url.hostname) ? route.continue() : route.abort('blockedbyclient');
    });
    context.setDefaultTimeout(10_000);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('request', (r) => requested.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    await mkdir(RESULTS, { recursive: true });
  });

  afterAll(async () => {
    await context.close();
    await rm(userDataDir, { recursive: true, force: true });
    await proxy.stop();
    await a.close();
    await b.close().catch(() => undefined);
    await c.close();
  });

  it('shows listeners, backends, states and latency, and follows a backend going down', async () => {
    // Traffic first, so both backends have latency samples: concurrent
    // connections spread over both under least-conn.
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        Array.from({ length: 4 }, async (_, i) => {
          const socket = await connectTo(proxy.port);
          socket.end(`ping ${round}.${i}`);
          expect((await readAll(socket)).toString()).toBe(`ping ${round}.${i}`);
        }),
      );
    }
    const before = await eventually(async () => {
      const r = await backendsReport(proxy.adminUrl);
      const bs = r.listeners[0]?.backends ?? [];
      return bs.length === 3 && bs.every((x) => x.health?.healthy === true && x.total > 0)
        ? r
        : undefined;
    });
    const listener = before.listeners[0];
    if (listener === undefined) throw new Error('no listener');

    const response = await page.goto(`${proxy.adminUrl}/`);
    expect(response?.headers()['content-type']).toBe('text/html; charset=utf-8');
    expect(await page.title()).toBe('Headway status');
    const section = page.locator(`section[data-listener="${listener.name}"]`);
    await section.waitFor({ timeout: 10_000 });
    await expect.poll(() => page.locator('#upd').textContent()).toMatch(/^updated /);
    const head = await section.locator('dl').innerText();
    expect(head).toContain(`127.0.0.1:${proxy.port}`);
    expect(head).toContain('least-conn');
    expect(head).toContain(`static://${a.address},${b.address},${c.address}`);
    expect(await section.locator('.b').first().innerText()).toBe('usable');
    // Build and uptime in the header; times in UTC, ISO 8601.
    expect(await page.locator('#ver').innerText()).toMatch(
      new RegExp(
        `^version ${(before.version ?? '(none)').replaceAll('.', '\\.')} .*up \\d+[dhms].* started \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ`,
      ),
    );
    expect(await page.locator('#upd').innerText()).toMatch(
      /^updated \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
    expect([
      await page.locator('nav a').nth(0).getAttribute('href'),
      await page.locator('nav a').nth(1).getAttribute('href'),
    ]).toEqual(['backends', 'metrics']);

    for (const backend of [a, b, c]) {
      const row = section.locator(`tr[data-backend="${backend.address}"]`);
      expect(await row.getAttribute('data-state')).toBe('ready');
      expect(await row.locator('td[data-l="State"] .b').innerText()).toBe('ready');
      expect(await row.locator('td[data-l="Health"]').innerText()).toMatch(/^healthy/);
      expect(await row.locator('td[data-l="State"] .sub').first().innerText()).toMatch(/^for \d+/);
      const conns = await row.locator('td[data-l="Connections"]').innerText();
      expect(Number(conns.split('\n')[0])).toBeGreaterThan(0);
      // p50 / p99 / max of each latency (window), in ms.
      const ms = /^\d+(\.\d+)? \/ \d+(\.\d+)? \/ \d+(\.\d+)?$/;
      expect(await row.locator('.lc span[title]').innerText()).toMatch(ms);
      expect(await row.locator('.lf span[title]').innerText()).toMatch(ms);
      expect(await row.locator('.ls span[title]').innerText()).toMatch(ms);
      expect(await row.locator('td[data-l^="Bytes"]').innerText()).toMatch(/^\d+ B \/ \d+ B\n/);
    }
    // Rates need two polls with traffic between them: 6 more connections, then the next refresh.
    for (let i = 0; i < 6; i++) {
      const socket = await connectTo(proxy.port);
      socket.end('again');
      await readAll(socket);
    }
    await expect
      .poll(
        async () =>
          (await section.locator('td[data-l="Connections"] .cr').allInnerTexts()).some(
            (t) => /^[\d.]+\/s$/.test(t) && parseFloat(t) > 0,
          ),
        { timeout: 10_000, interval: 100 },
      )
      .toBe(true);

    // Drain through the page's button (the CSRF-safe control path), then undrain.
    const rowC = section.locator(`tr[data-backend="${c.address}"]`);
    await rowC.locator('button[data-act="drain"]').click();
    await expect
      .poll(() => rowC.getAttribute('data-state'), { timeout: 10_000, interval: 100 })
      .toBe('maintenance');
    expect(await page.locator('#note').innerText()).toBe(`drain ${c.address}: done`);
    const api = await backendsReport(proxy.adminUrl);
    expect(api.listeners[0]?.backends.find((x) => x.id === c.address)?.state).toBe('maintenance');
    await rowC.locator('button[data-act="undrain"]').click();
    await expect
      .poll(() => rowC.getAttribute('data-state'), { timeout: 10_000, interval: 100 })
      .toBe('ready');

    // Backend B goes away; the page's own 2 s refresh (no reload) must show it.
    await page.evaluate(() => {
      (globalThis as unknown as Dom).marker = 1;
    });
    await b.close();
    const rowB = section.locator(`tr[data-backend="${b.address}"]`);
    await expect
      .poll(() => rowB.getAttribute('data-state'), { timeout: 10_000, interval: 100 })
      .toBe('unhealthy');
    expect(await rowB.locator('td[data-l="State"]').innerText()).toMatch(/^unhealthy/);
    expect(await rowB.locator('td[data-l="Health"]').innerText()).toMatch(/^unhealthy/);
    expect(
      await section.locator(`tr[data-backend="${a.address}"]`).getAttribute('data-state'),
    ).toBe('ready');
    expect(await page.evaluate(() => (globalThis as unknown as Dom).marker)).toBe(1);

    // Everything fits at 1280 px with three backends: no sideways scrolling of the page or a table.
    expect(
      await page.evaluate(
        () => (globalThis as unknown as Dom).document.documentElement.scrollWidth,
      ),
    ).toBeLessThanOrEqual(DESKTOP.width);
    const overflowing = await page.evaluate(
      () =>
        Array.from((globalThis as unknown as Dom).document.querySelectorAll('.tw')).filter(
          (el) => el.scrollWidth > el.clientWidth,
        ).length,
    );
    expect(overflowing).toBe(0);
    // Down to the end of the content, not the empty viewport below it.
    const height = await page.evaluate(() =>
      Math.ceil(
        ((globalThis as unknown as Dom).document.getElementById('main')?.getBoundingClientRect()
          .bottom ?? 0) + 4,
      ),
    );
    const clip = { x: 0, y: 0, width: DESKTOP.width, height: Math.min(height, DESKTOP.height) };
    await page.screenshot({ path: join(RESULTS, 'status-page-desktop.png'), clip });
    if (process.env.UPDATE_SCREENSHOTS === '1') {
      await mkdir(join(ROOT, 'docs'), { recursive: true });
      await page.screenshot({ path: join(ROOT, 'docs', 'status-page.png'), clip });
    }
  });

  it('is usable at phone width: cards, no horizontal scrolling', async () => {
    await page.setViewportSize(PHONE);
    const section = page.locator('section[data-listener]').first();
    expect(await section.locator('thead').isVisible()).toBe(false);
    const rowB = section.locator(`tr[data-backend="${b.address}"]`);
    // Each cell carries its own label on narrow screens.
    const label = await rowB
      .locator('td[data-l="State"]')
      .evaluate((td) => (globalThis as unknown as Dom).getComputedStyle(td, '::before').content);
    expect(label).toBe('"State"');
    const overflow = await page.evaluate(() => {
      const root = (globalThis as unknown as Dom).document.documentElement;
      return root.scrollWidth - root.clientWidth;
    });
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(RESULTS, 'status-page-phone.png'), fullPage: true });
    await page.setViewportSize(DESKTOP);
    expect(await section.locator('thead').isVisible()).toBe(true);
  });

  it('loaded nothing but the admin endpoint, without script or CSP errors', () => {
    expect(consoleErrors).toEqual([]);
    const origins = new Set(requested.map((u) => new URL(u).origin));
    expect([...origins]).toEqual([proxy.adminUrl]);
  });

  it('shows an error banner, keeping the last data, when the proxy is gone', async () => {
    await proxy.stop();
    const banner = page.locator('#err');
    await banner.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await banner.innerText()).toMatch(/^Cannot load \/backends \(.+\); showing data from /);
    expect(await page.locator('section[data-listener]').count()).toBe(1);
  });
});
