import { createHash } from 'node:crypto';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.ts';
import { startAdminServer, type AdminServer } from './admin-server.ts';
import type { BackendReport, BackendsReport } from './backends-report.ts';
import { STATUS_PAGE_HTML, STATUS_PAGE_SCRIPT } from './status-page.ts';

interface PageFunctions {
  esc(v: unknown): string;
  render(report: unknown, previous?: unknown): string;
  keep(report: unknown): unknown;
  head(report: unknown): string;
  shown(b: unknown): string;
  ms(v: unknown): string;
  bytes(v: unknown): string;
}

/** The page's own script, run without a `document` (so it only defines its functions). */
function pageFunctions(): PageFunctions {
  const context: Record<string, unknown> = {};
  runInNewContext(STATUS_PAGE_SCRIPT, context);
  return context as unknown as PageFunctions;
}

const summary = { count: 3, p50: 0.25, p90: 0.4, p99: 0.5, p999: 0.5, max: 12.5 };
const latency = { window: summary, sinceStart: summary };

function backend(over: Partial<Record<keyof BackendReport, unknown>> = {}): BackendReport {
  return {
    id: '10.0.0.7:6379',
    address: '10.0.0.7:6379',
    weight: 1,
    state: 'ready',
    stateSince: '2026-11-27T07:58:30.000Z',
    endpointState: 'ready',
    active: 2,
    total: 41,
    failures: 0,
    outcomes: { ok: 39, connect_error: 1, reset: 1 },
    ejections: 0,
    bytes: { clientToBackend: 2048, backendToClient: 10 },
    latency: { connect: latency, firstByte: latency, session: latency },
    ...over,
  } as BackendReport;
}

function report(backends: BackendReport[], name = 'default'): BackendsReport {
  return {
    version: '0.1.0',
    revision: 'abc123',
    startedAt: '2026-11-27T07:00:00.000Z',
    now: '2026-11-27T08:00:00.000Z',
    workers: 0,
    listeners: [
      {
        name,
        addresses: ['[::]:6379'],
        strategy: 'least-conn',
        source: { kind: 'dns', uri: 'dns://redis:6379', consecutiveErrors: 2, lastError: null },
        updatedAt: '2026-11-27T08:00:00.000Z',
        usable: true,
        tier: 'ready',
        activeConnections: 3,
        queued: 1,
        withoutBackend: { no_backend: 2 },
        backends,
      },
    ],
  };
}

describe('status page HTML', () => {
  it('is self-contained: no external URLs in src, href, action, CSS url() or @import', () => {
    expect(STATUS_PAGE_HTML).not.toMatch(/https?:\/\//i);
    expect(STATUS_PAGE_HTML).not.toMatch(/\b(src|href|action|srcset)\s*=\s*["']?\s*(\w+:)?\/\//i);
    expect(STATUS_PAGE_HTML).not.toMatch(/<[a-z]+\s[^>]*\b(src|action)\s*=/i);
    // Links only to the endpoint's own paths, relative (so they work behind a path prefix).
    expect([...STATUS_PAGE_HTML.matchAll(/\bhref="([^"]*)"/g)].map((m) => m[1])).toEqual([
      'backends',
      'metrics',
    ]);
    expect(STATUS_PAGE_HTML).not.toMatch(/url\(|@import/i);
    expect(STATUS_PAGE_HTML).not.toMatch(/<(link|img|iframe|object|embed)\b/i);
    // Only the one inline script (no src).
    expect(STATUS_PAGE_HTML.match(/<script\b/g)).toHaveLength(1);
    expect(STATUS_PAGE_HTML).toContain('<script>');
    expect(STATUS_PAGE_SCRIPT).not.toMatch(/<\/script/i);
    // Fetches its data by a relative URL.
    expect(STATUS_PAGE_SCRIPT).toContain('fetch("backends"');
  });

  it('is usable on a phone: viewport meta and a narrow-screen layout', () => {
    expect(STATUS_PAGE_HTML).toContain(
      '<meta name="viewport" content="width=device-width, initial-scale=1">',
    );
    expect(STATUS_PAGE_HTML).toMatch(/@media \(max-width:\d+px\)/);
    expect(STATUS_PAGE_HTML).toMatch(/^<!doctype html>/);
    expect(STATUS_PAGE_HTML).toContain('<meta charset="utf-8">');
  });

  it('stays lean', () => {
    expect(Buffer.byteLength(STATUS_PAGE_HTML)).toBeLessThan(15 * 1024);
  });

  it('pins its inline script and style by hash in a Content-Security-Policy', () => {
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(
      STATUS_PAGE_HTML,
    )?.[1];
    expect(csp).toBeDefined();
    const script = /<script>([\s\S]*)<\/script>/.exec(STATUS_PAGE_HTML)?.[1] ?? '';
    const style = /<style>([\s\S]*)<\/style>/.exec(STATUS_PAGE_HTML)?.[1] ?? '';
    const hash = (s: string): string => createHash('sha256').update(s).digest('base64');
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain(`script-src 'sha256-${hash(script)}'`);
    expect(csp).toContain(`style-src 'sha256-${hash(style)}'`);
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('unsafe');
  });
});

describe('status page script', () => {
  const page = pageFunctions();

  it('escapes HTML special characters', () => {
    expect(page.esc(`<img src=x onerror="alert(1)">&'\``)).toBe(
      '&#60;img src=x onerror=&#34;alert(1)&#34;&#62;&#38;&#39;&#96;',
    );
    expect(page.esc(42)).toBe('42');
    expect(page.esc('plain text: 10.0.0.7:6379')).toBe('plain text: 10.0.0.7:6379');
  });

  it('escapes every value it renders', () => {
    const evil = '"><img src=x onerror=alert(1)>';
    const html = page.render({
      listeners: [
        {
          ...report([]).listeners[0],
          name: evil,
          addresses: [evil],
          strategy: evil,
          tier: evil,
          source: { kind: evil, uri: evil, [evil]: evil, nested: { x: evil } },
          backends: [
            backend({
              id: evil,
              address: evil,
              state: evil,
              weight: evil,
              pod: evil,
              zone: evil,
              health: { healthy: false, checks: 1, lastCheckAt: null, lastResult: evil, lastMs: 1 },
            }),
          ],
        },
      ],
    });
    expect(html).not.toContain('<img');
    expect(html).not.toContain(evil);
    expect(html).toContain('&#34;&#62;&#60;img src=x onerror=alert(1)&#62;');
  });

  it('renders listeners and backends with state, health, latency and bytes', () => {
    const html = page.render(
      report([
        backend(),
        backend({
          id: 'b',
          address: '10.0.0.8:6379',
          state: 'unhealthy',
          health: {
            healthy: false,
            checks: 4,
            lastCheckAt: null,
            lastResult: 'connect refused',
            lastMs: 0.4,
          },
          latency: undefined,
        }),
      ]),
    );
    expect(html).toContain('data-listener="default"');
    expect(html).toContain('<span class="b ready">ready</span>');
    expect(html).toContain('[::]:6379');
    expect(html).toContain('least-conn');
    expect(html).toContain('dns://redis:6379');
    expect(html).toContain('consecutiveErrors=2');
    expect(html).not.toContain('lastError');
    expect(html).toContain('data-backend="10.0.0.7:6379" data-state="ready"');
    expect(html).toContain('data-backend="b" data-state="unhealthy"');
    expect(html).toContain('unhealthy: connect refused (0.400 ms)');
    expect(html).toContain('0.250 / 0.500 / 12.5</span>');
    expect(html).toContain('2.0 KiB / 10 B');
    expect(html).toContain('<table>');
    expect(html).toContain('<span title="3 in the last 30\u201360 s">');
    // The address shows under the id only when they differ.
    expect(html).toContain('<code>b</code><div class="sub">10.0.0.8:6379 \u00b7 weight 1</div>');
    expect(html).toContain('<code>10.0.0.7:6379</code><div class="sub">weight 1</div>');
  });

  it('shows the state the API reports, with the time in it', () => {
    const unhealthy = { healthy: false, checks: 1, lastCheckAt: null, lastResult: 'x', lastMs: 1 };
    expect(page.shown(backend())).toBe('ready');
    // One definition (backends/backend.ts): the page does not fold health in on its own.
    expect(page.shown(backend({ state: 'unhealthy', health: unhealthy }))).toBe('unhealthy');
    expect(page.shown(backend({ state: 'maintenance', health: unhealthy }))).toBe('maintenance');
    const html = page.render(report([backend({ state: 'unhealthy', health: unhealthy })]));
    expect(html).toContain('title="since 2026-11-27T07:58:30Z">for 1m 30s</div>');
  });

  it('shows rates against the previous poll, errors by outcome and a drain button', () => {
    const first = report([backend()]);
    const second = {
      ...report([
        backend({ total: 61, bytes: { clientToBackend: 2048 + 4096, backendToClient: 10 } }),
      ]),
      now: '2026-11-27T08:00:02.000Z',
    };
    const html = page.render(second, page.keep(first));
    expect(html).toContain('<div class="sub cr">10/s</div>');
    expect(html).toContain('<div class="sub br">2.0 KiB/s / 0 B/s</div>');
    expect(html).toContain('0 / 2<div class="sub">connect_error 1 \u00b7 reset 1</div>');
    expect(html).toContain('closed without a backend');
    expect(html).toContain('no_backend 2');
    expect(html).toContain(
      '<button type="button" data-act="drain" data-id="10.0.0.7:6379" data-listener="default">drain</button>',
    );
    expect(page.render(report([backend({ state: 'maintenance' })]))).toContain('>undrain</button>');
    // Without a previous poll there is no rate yet.
    expect(page.render(first)).toContain('<div class="sub cr">\u2013</div>');
    expect(page.head(first)).toBe(
      'version 0.1.0 (abc123) \u00b7 up 1h 0m \u00b7 started 2026-11-27T07:00:00Z',
    );
  });

  it('formats durations and sizes', () => {
    expect(page.ms(0.0123)).toBe('0.012');
    expect(page.ms(3.456)).toBe('3.46');
    expect(page.ms(45.67)).toBe('45.7');
    expect(page.ms(456.7)).toBe('457');
    expect(page.ms(12_345)).toBe('12345');
    expect(page.ms(null)).toBe('\u2013');
    expect(page.bytes(0)).toBe('0 B');
    expect(page.bytes(1536)).toBe('1.5 KiB');
    expect(page.bytes(5 * 1024 * 1024)).toBe('5.0 MiB');
  });

  it('renders placeholders for an empty report', () => {
    expect(page.render({ listeners: [] })).toContain('No listeners.');
    expect(page.render(report([]))).toContain('No backends.');
  });
});

describe('admin endpoint serves the status page', () => {
  let admin: AdminServer;

  beforeAll(async () => {
    admin = await startAdminServer(
      { host: '127.0.0.1', port: 0 },
      {
        readiness: () => ({ ready: true }),
        backends: () => report([backend()]),
        metrics: () => Promise.resolve({ contentType: 'text/plain', body: '' }),
        setDrain: () => 0,
        pods: () => ({ listeners: [] }),
      },
      silentLogger,
    );
  });

  afterAll(async () => {
    await admin.close();
  });

  it.each(['/', '/status'])('GET %s answers the page as UTF-8 HTML', async (path) => {
    const res = await fetch(`http://${admin.address}${path}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.text()).toBe(STATUS_PAGE_HTML);
  });

  it('HEAD / answers without a body', async () => {
    const res = await fetch(`http://${admin.address}/`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });
});
