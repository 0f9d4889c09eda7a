import { describe, expect, it } from 'vitest';
import { ConnectionGate, type Admittable } from './connection-gate.ts';
import { FdBudget } from './fd-budget.ts';

function item(): Admittable & { grants: number } {
  const it = {
    grants: 0,
    granted() {
      it.grants++;
    },
  };
  return it;
}

describe('ConnectionGate', () => {
  it('grants up to the limit, queues at most as many more, refuses the rest', () => {
    const gate = new ConnectionGate(2);
    const items = Array.from({ length: 5 }, item);
    expect(items.map((i) => gate.admit(i))).toEqual([
      'granted',
      'granted',
      'waiting',
      'waiting',
      'full',
    ]);
    expect(gate.waiting).toBe(2);
    gate.release(items[0] as Admittable);
    expect(items[2]?.grants).toBe(1);
    expect(gate.active).toBe(2);
  });

  it('drops a waiting item that ends (gave up, timed out) without granting it', () => {
    const gate = new ConnectionGate(2);
    const [a, b, c, d] = [item(), item(), item(), item()];
    for (const i of [a, b, c, d]) gate.admit(i);
    gate.release(c);
    expect(gate.waiting).toBe(1);
    gate.release(a);
    expect(c.grants).toBe(0);
    expect(d.grants).toBe(1);
  });

  it('--reject-over-limit refuses at once', () => {
    const gate = new ConnectionGate(1, true);
    expect(gate.admit(item())).toBe('granted');
    expect(gate.admit(item())).toBe('full');
  });
});

describe('FdBudget', () => {
  it('keeps the reserve, counting sockets between two counts of /proc/self/fd', () => {
    let fds = 50;
    let sockets = 0;
    let now = 0;
    const budget = new FdBudget(
      100,
      20,
      () => fds,
      () => sockets,
      { nowMs: () => now, wallMs: () => now },
    );
    expect(budget.roomForClient()).toBe(true);
    // 28 sockets opened since the count: 78 + 2 + 20 = 100 fits, one more does not.
    sockets = 28;
    fds = 78;
    expect(budget.roomForClient()).toBe(true);
    sockets = 29;
    fds = 79;
    expect(budget.roomForClient()).toBe(false);
    // Fds freed elsewhere are seen by a fresh count (at most every 100 ms when near the limit).
    fds = 60;
    expect(budget.roomForClient()).toBe(false);
    now = 150;
    expect(budget.roomForClient()).toBe(true);
  });
});
