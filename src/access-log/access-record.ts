import type { Outcome } from '../core/outcome.ts';

/** Which side ended a connection first (see {@link AccessRecord.closedFirst}). */
export type ClosedFirst = 'client' | 'backend' | 'proxy';

/**
 * What the access log records about one closed client connection. The session
 * builds it when both sockets have closed; the formatters turn it into one
 * line. Times in ms come from the monotonic clock, except `timeMs`.
 */
export interface AccessRecord {
  /** When the connection closed, epoch ms (wall clock). */
  readonly timeMs: number;
  /** Name of the listener that accepted the connection. */
  readonly listener: string;
  /** Address of the TCP peer (the client, or a load balancer in front of Headway). */
  readonly peerAddress: string;
  readonly peerPort: number;
  /** Original client address from a PROXY protocol header, if one was received. */
  readonly clientAddress?: string | undefined;
  readonly clientPort?: number | undefined;
  /** Id of the backend of the last connection attempt, failed or not (none when no backend was picked). */
  readonly backendId?: string | undefined;
  /** That backend's `HOST:PORT` (`[IPv6]:PORT` for IPv6). */
  readonly backendAddress?: string | undefined;
  /** Bytes read from the client (and forwarded to the backend). */
  readonly bytesFromClient: number;
  /** Bytes read from the backend (and forwarded to the client). */
  readonly bytesFromBackend: number;
  /** Accept to close. */
  readonly durationMs: number;
  /** Time to establish the backend connection that was used (absent if none was). */
  readonly connectMs?: number | undefined;
  /** From the client's first byte to the backend's first byte in reply (absent if not measured). */
  readonly firstByteMs?: number | undefined;
  /** Connection attempts after the first. */
  readonly retries: number;
  /** Backend connection attempts made (0 when none was: denied, rejected, no backend). */
  readonly attempts: number;
  readonly outcome: Outcome;
  /**
   * Which side ended the connection first: `client` or `backend` (sent FIN or
   * reset first), `proxy` (Headway closed it: timeout, drain, lifetime,
   * rejection, no backend, connect failure), or null when unknown.
   */
  readonly closedFirst: ClosedFirst | null;
}

/** One field of an access-log line, for documentation. */
export interface AccessLogField {
  /** Key in JSON and in the text format. */
  readonly name: string;
  /** JSON type; `|null` marks a field that is null (text: `-`) when it does not apply. */
  readonly type: string;
  readonly meaning: string;
}

/**
 * The fields of an access-log line, in the order both formats write them.
 * The single source for the formatters' tests and for the README.
 */
export const ACCESS_LOG_FIELDS: readonly AccessLogField[] = [
  {
    name: 'time',
    type: 'string',
    meaning: 'When the connection closed: ISO 8601 UTC with milliseconds',
  },
  { name: 'listener', type: 'string', meaning: 'Name of the listener that accepted it' },
  { name: 'peerAddress', type: 'string', meaning: 'IP address of the TCP peer' },
  { name: 'peerPort', type: 'number', meaning: 'Port of the TCP peer' },
  {
    name: 'clientAddress',
    type: 'string|null',
    meaning: 'Original client IP address from the PROXY protocol header',
  },
  { name: 'clientPort', type: 'number|null', meaning: 'Original client port from that header' },
  {
    name: 'backendId',
    type: 'string|null',
    meaning:
      'Backend of the last connection attempt, the one that failed for connect_error and connect_timeout (its id in /backends and metrics)',
  },
  {
    name: 'backendAddress',
    type: 'string|null',
    meaning: "That backend's HOST:PORT ([IPv6]:PORT)",
  },
  { name: 'bytesFromClient', type: 'number', meaning: 'Bytes received from the client' },
  { name: 'bytesFromBackend', type: 'number', meaning: 'Bytes received from the backend' },
  { name: 'durationMs', type: 'number', meaning: 'Accept to close, ms (µs resolution)' },
  {
    name: 'connectMs',
    type: 'number|null',
    meaning: 'Time to connect to the backend that was used, ms',
  },
  {
    name: 'firstByteMs',
    type: 'number|null',
    meaning: "From the client's first byte to the backend's first byte in reply, ms",
  },
  { name: 'retries', type: 'number', meaning: 'Connection attempts after the first' },
  {
    name: 'outcome',
    type: 'string',
    meaning: 'How it ended: the `outcome` label of headway_connections_total',
  },
  {
    name: 'closedFirst',
    type: 'string|null',
    meaning:
      'Who ended it first: client, backend (FIN or reset), proxy (timeout, drain, lifetime, no backend, connect failure)',
  },
  {
    name: 'attempts',
    type: 'number',
    meaning: 'Backend connection attempts made: 0 when none was (denied, rejected, no backend)',
  },
];

/** The field list as a Markdown table, for the README. */
export function describeAccessLogFormat(): string {
  const rows = ACCESS_LOG_FIELDS.map((f) => `| \`${f.name}\` | ${f.type} | ${f.meaning} |`);
  return ['| Field | Type | Meaning |', '| --- | --- | --- |', ...rows].join('\n') + '\n';
}

/**
 * An `AccessRecord` whose fields are assigned in place: a route fills one for
 * each closed connection and hands it to `AccessLog.write`, which formats it
 * at once and keeps no reference, so no record is allocated per connection.
 */
export class ReusableAccessRecord implements AccessRecord {
  timeMs = 0;
  listener = '';
  peerAddress = '';
  peerPort = 0;
  clientAddress: string | undefined = undefined;
  clientPort: number | undefined = undefined;
  backendId: string | undefined = undefined;
  backendAddress: string | undefined = undefined;
  bytesFromClient = 0;
  bytesFromBackend = 0;
  durationMs = 0;
  connectMs: number | undefined = undefined;
  firstByteMs: number | undefined = undefined;
  retries = 0;
  attempts = 0;
  outcome: Outcome = 'ok';
  closedFirst: ClosedFirst | null = null;
}
