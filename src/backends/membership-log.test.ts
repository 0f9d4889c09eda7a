import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../core/endpoint.ts';
import type { LogFields, Logger } from '../core/logger.ts';
import { logMembership, MEMBERSHIP_LINES_MAX } from './membership-log.ts';

interface Line {
  readonly level: string;
  readonly msg: string;
  readonly fields: LogFields | undefined;
}

function recorder(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at =
    (level: string) =>
    (msg: string, fields?: LogFields): void => {
      lines.push({ level, msg, fields });
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return { logger, lines };
}

function ep(i: number, address = `10.0.0.${i}`): Endpoint {
  return { id: `pod-${i}`, address, port: 6379, weight: 1, state: 'ready' };
}

describe('logMembership', () => {
  it('names each added and removed backend with id and address ([v6]:port)', () => {
    const { logger, lines } = recorder();
    logMembership(logger, {
      listener: 'l',
      added: [ep(1), ep(2, 'fd00::2')],
      removed: [{ endpoint: ep(3), open: 2 }],
      listedBefore: 1,
      listedAfter: 2,
    });
    expect(lines).toEqual([
      {
        level: 'info',
        msg: 'backend added',
        fields: { listener: 'l', backend: 'pod-1', address: '10.0.0.1:6379' },
      },
      {
        level: 'info',
        msg: 'backend added',
        fields: { listener: 'l', backend: 'pod-2', address: '[fd00::2]:6379' },
      },
      {
        level: 'info',
        msg: 'backend removed',
        fields: { listener: 'l', backend: 'pod-3', address: '10.0.0.3:6379', openConnections: 2 },
      },
    ]);
  });

  it('summarises a change larger than the line limit in one line per direction', () => {
    const { logger, lines } = recorder();
    const many = Array.from({ length: 500 }, (_, i) => ep(i));
    logMembership(logger, {
      listener: 'l',
      added: many,
      removed: many.map((endpoint) => ({ endpoint, open: 0 })),
      listedBefore: 500,
      listedAfter: 500,
    });
    expect(lines.map((l) => l.msg)).toEqual(['backends added', 'backends removed']);
    expect(lines[0]?.fields).toMatchObject({ count: 500, total: 500 });
    expect((lines[0]?.fields?.backends as string[]).length).toBe(MEMBERSHIP_LINES_MAX);
  });

  it('warns when the last backend leaves, not when there was none', () => {
    const { logger, lines } = recorder();
    logMembership(logger, {
      listener: 'l',
      added: [],
      removed: [],
      listedBefore: 0,
      listedAfter: 0,
    });
    expect(lines).toEqual([]);
    logMembership(logger, {
      listener: 'l',
      added: [],
      removed: [{ endpoint: ep(1), open: 0 }],
      listedBefore: 1,
      listedAfter: 0,
    });
    expect(lines.at(-1)).toMatchObject({ level: 'warn', fields: { listener: 'l', removed: 1 } });
    expect(lines.at(-1)?.msg).toMatch(/^every backend is gone/);
  });
});
