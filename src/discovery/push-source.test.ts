import { describe, expect, it } from 'vitest';
import type { EndpointSnapshot } from '../core/endpoint.ts';
import { PushSource } from './push-source.ts';

function snapshot(...ids: string[]): EndpointSnapshot {
  return {
    endpoints: ids.map((id) => ({ id, address: '127.0.0.1', port: 1, weight: 1, state: 'ready' })),
    updatedAtMs: 1,
  };
}

function recorder(): { seen: string[][]; sink: Parameters<PushSource['start']>[0] } {
  const seen: string[][] = [];
  return {
    seen,
    sink: {
      onSnapshot: (s) => seen.push(s.endpoints.map((e) => e.id)),
      onError: () => undefined,
    },
  };
}

describe('PushSource', () => {
  it('takes its kind from the URI it stands for', () => {
    expect(PushSource.kindOf('dns://db.local:5432')).toBe('dns');
    expect(PushSource.kindOf('no-scheme')).toBe('');
  });

  it('keeps the last snapshot pushed before start and delivers it at start', () => {
    const source = new PushSource('k8s', 'k8s://ns/svc');
    source.push(snapshot('a'));
    source.push(snapshot('a', 'b'));
    const r = recorder();
    source.start(r.sink);
    expect(r.seen).toEqual([['a', 'b']]);
  });

  it('delivers each push while started, nothing after stop, and tells its owner once', () => {
    let stops = 0;
    const source = new PushSource('static', 'static://x', { onStop: () => stops++ });
    const r = recorder();
    source.start(r.sink);
    expect(r.seen).toEqual([]);
    source.push(snapshot('a'));
    source.stop();
    source.push(snapshot('b'));
    source.stop();
    expect(r.seen).toEqual([['a']]);
    expect(source.last?.endpoints[0]?.id).toBe('b');
    expect(stops).toBe(1);
  });

  it('reports the status its owner gave it', () => {
    expect(new PushSource('dns', 'dns://x', { status: { fedBy: 'main thread' } }).status()).toEqual(
      { fedBy: 'main thread' },
    );
    expect(new PushSource('dns', 'dns://x').status()).toEqual({});
  });
});
