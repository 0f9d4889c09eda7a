/**
 * `node bench/raw-relay.ts LISTEN_PORT BACKEND_PORT`: the smallest relay
 * Node can run, as a yardstick for issue #11's targets: libuv TCP handles
 * driven directly (the tcp_wrap and stream_wrap bindings, what net
 * itself is built on), no net.Socket, no streams, no features: accept,
 * connect, copy bytes both ways through one shared read buffer, pass FIN
 * on, close. It shows what net.Socket costs Headway per connection (memory,
 * connection setup and teardown) and so what a data path on raw handles
 * could reach; it is not a proxy anyone should run. Loopback only; stops on
 * SIGTERM/SIGINT. The bindings come from Headway's fenced surface
 * (src/proxy/libuv/bindings.ts), the one place that reaches into Node.
 */
import { libuvBindings, type ReqWrap, type TcpHandle } from '../src/proxy/libuv/bindings.ts';

interface Req extends ReqWrap {
  buffer?: Buffer;
  pair?: Pair;
  from?: Handle;
}
interface Handle extends TcpHandle {
  onconnection?: (err: number, client?: Handle) => void;
  pair?: Pair;
}
const uv = libuvBindings();
const { streamBaseState, kReadBytesOrError, kLastWriteWasAsync, UV_EOF } = uv;

const [listenText = '', backendText = ''] = process.argv.slice(2);
const LISTEN_PORT = Number(listenText);
const BACKEND_PORT = Number(backendText);
if (!(LISTEN_PORT > 0) || !(BACKEND_PORT > 0)) {
  process.stderr.write('usage: node bench/raw-relay.ts LISTEN_PORT BACKEND_PORT\n');
  process.exit(2);
}

/** Every connection reads into this, one read at a time; bytes are copied before they are written. */
const scratch = Buffer.allocUnsafeSlow(61_440);

class Pair {
  readonly client: Handle;
  readonly up: Handle;
  ended = 0;
  closed = false;
  constructor(client: Handle, up: Handle) {
    this.client = client;
    this.up = up;
  }
  other(h: Handle): Handle {
    return h === this.client ? this.up : this.client;
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
    this.up.close();
  }
}

function onRead(this: Handle): undefined {
  const pair = this.pair as Pair;
  const nread = streamBaseState[kReadBytesOrError] as number;
  if (nread > 0) {
    const to = pair.other(this);
    const data = Buffer.allocUnsafe(nread);
    scratch.copy(data, 0, 0, nread);
    const req: Req = new uv.WriteWrap();
    req.handle = to;
    req.oncomplete = onWritten;
    req.from = this;
    req.pair = pair;
    if (to.writeBuffer(req, data) !== 0) {
      pair.close();
      return undefined;
    }
    if (streamBaseState[kLastWriteWasAsync] !== 0) {
      req.buffer = data;
      this.readStop();
    }
    return undefined;
  }
  if (nread === UV_EOF) {
    const req: Req = new uv.ShutdownWrap();
    req.handle = pair.other(this);
    req.oncomplete = () => undefined;
    pair.other(this).shutdown(req);
    if (++pair.ended === 2) pair.close();
    return undefined;
  }
  if (nread < 0) pair.close();
  return undefined;
}

function onWritten(this: Req, status: number): void {
  const pair = this.pair as Pair;
  if (status < 0) return pair.close();
  if (!pair.closed) (this.from as Handle).readStart();
}

function startReading(h: Handle, pair: Pair): void {
  h.pair = pair;
  h.onread = onRead;
  h.useUserBuffer(scratch);
  h.setNoDelay(true);
  h.readStart();
}

const server: Handle = new uv.TCP(uv.serverType);
if (server.bind('127.0.0.1', LISTEN_PORT) !== 0 || server.listen(4096) !== 0) {
  process.stderr.write(`raw-relay: cannot listen on 127.0.0.1:${LISTEN_PORT}\n`);
  process.exit(1);
}
server.onconnection = (err, client) => {
  if (err !== 0 || client === undefined) return;
  const up: Handle = new uv.TCP(uv.socketType);
  const pair = new Pair(client, up);
  const req: Req = new uv.TCPConnectWrap();
  req.oncomplete = (status: number) => {
    if (status !== 0) return pair.close();
    startReading(client, pair);
    startReading(up, pair);
  };
  if (up.connect(req, '127.0.0.1', BACKEND_PORT) !== 0) pair.close();
};
const stop = (): void => {
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
