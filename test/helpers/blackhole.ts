import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

export interface Blackhole {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A loopback port whose SYNs go unanswered: a listener (python3, since Node
 * always accepts) with a backlog of 0 that never calls accept(), its queue
 * filled by a few parked connections. Further connects hang until the
 * caller's timeout, as with a vanished pod. No non-loopback address involved.
 */
export async function startBlackhole(): Promise<Blackhole> {
  const py: ChildProcess = spawn(
    'python3',
    [
      '-c',
      [
        'import socket, sys, time',
        's = socket.socket()',
        "s.bind(('127.0.0.1', 0))",
        's.listen(0)',
        'print(s.getsockname()[1], flush=True)',
        'sys.stdin.read()',
      ].join('\n'),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const [first] = (await once(py.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  const port = Number(first.toString().trim());
  const parked: Socket[] = [];
  // Fill the accept queue; connects beyond it are dropped by the kernel.
  for (let i = 0; i < 3; i++) {
    const s = connect({ host: '127.0.0.1', port });
    s.on('error', () => undefined);
    parked.push(s);
  }
  await new Promise((r) => setTimeout(r, 200));
  return {
    port,
    close: async () => {
      for (const s of parked) s.destroy();
      py.stdin?.end();
      py.kill();
      if (py.exitCode === null) await once(py, 'exit');
    },
  };
}
