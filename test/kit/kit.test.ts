import { describe, expect, it } from 'vitest';
import type { EndpointSnapshot } from '../../src/core/endpoint.ts';
import { endpoint } from './backends.ts';
import { MANUAL_CLOCK_EPOCH_MS, ManualClock } from './clock.ts';
import { TestPushSource } from './push-source.ts';
import { seededRandom } from './random.ts';
import { RecordingMetrics } from './recording-metrics.ts';

describe('test kit', () => {
  it('ManualClock moves only when told, wall time in step with monotonic time', () => {
    const clock = new ManualClock(5);
    expect([clock.nowMs(), clock.wallMs()]).toEqual([5, MANUAL_CLOCK_EPOCH_MS + 5]);
    clock.advance(10);
    expect(clock.nowMs()).toBe(15);
    clock.set(2);
    expect(clock.nowMs()).toBe(2);
  });

  it('seededRandom repeats from its seed and stays in [0, 1)', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const draws = Array.from({ length: 1000 }, () => a());
    expect(draws).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(draws.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(draws).size).toBeGreaterThan(990);
  });

  it('TestPushSource holds a push made before start, then delivers each push and failure', () => {
    const source = new TestPushSource();
    const seen: string[] = [];
    const sink = {
      onSnapshot: (s: EndpointSnapshot) => seen.push(s.endpoints.map((e) => e.id).join(',')),
      onError: (reason: string) => seen.push(`error ${reason}`),
    };
    expect(() => source.fail('early')).toThrow(/before start/);
    source.pushEndpoints(endpoint('a'), endpoint('b'));
    expect(seen).toEqual([]);
    source.start(sink);
    source.pushEndpoints(endpoint('c'));
    source.fail('timeout');
    source.stop();
    source.pushEndpoints(endpoint('d'));
    expect(seen).toEqual(['a,b', 'c', 'error timeout']);
    expect([source.starts, source.stops, source.started]).toEqual([1, 1, false]);
  });

  it('RecordingMetrics keeps handle events in order and ejections apart', () => {
    const metrics = new RecordingMetrics();
    const handle = metrics.backend('a');
    handle.attemptStarted();
    handle.ejected();
    metrics.panicEntered();
    handle.remove();
    expect(metrics.events).toEqual(['start a', 'panic', 'remove a']);
    expect([metrics.ejections, metrics.panics]).toEqual([['a'], 1]);
  });
});
