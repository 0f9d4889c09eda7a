import type { AccessRecord } from './access-record.ts';
import {
  asciiBytes,
  escapedMaxBytes,
  isoTimeString,
  LineWriter,
  NUMBER_MAX_BYTES,
} from './line-writer.ts';

/** `json`: one JSON object per line. `text`: logfmt-style `key=value` pairs. */
export type AccessLogFormat = 'json' | 'text';

/** Writes one record as one line (ending in `\n`) at the writer's position. */
export type LineFormat = (w: LineWriter, r: AccessRecord) => void;

// The constant text between the values, one entry per field in ACCESS_LOG_FIELDS order.
const J_TIME = asciiBytes('{"time":"');
const J_LISTENER = asciiBytes('","listener":');
const J_PEER_ADDRESS = asciiBytes(',"peerAddress":');
const J_PEER_PORT = asciiBytes(',"peerPort":');
const J_CLIENT_ADDRESS = asciiBytes(',"clientAddress":');
const J_CLIENT_PORT = asciiBytes(',"clientPort":');
const J_BACKEND_ID = asciiBytes(',"backendId":');
const J_BACKEND_ADDRESS = asciiBytes(',"backendAddress":');
const J_BYTES_FROM_CLIENT = asciiBytes(',"bytesFromClient":');
const J_BYTES_FROM_BACKEND = asciiBytes(',"bytesFromBackend":');
const J_DURATION = asciiBytes(',"durationMs":');
const J_CONNECT = asciiBytes(',"connectMs":');
const J_FIRST_BYTE = asciiBytes(',"firstByteMs":');
const J_RETRIES = asciiBytes(',"retries":');
const J_OUTCOME = asciiBytes(',"outcome":"');
const J_CLOSED_FIRST = asciiBytes('","closedFirst":');
const J_ATTEMPTS = asciiBytes(',"attempts":');
const J_END = asciiBytes('}\n');
const J_NULL = asciiBytes('null');

/**
 * One JSON object per line, keys in `ACCESS_LOG_FIELDS` order, absent
 * values as null. Built by hand: `JSON.stringify` of an object with the same
 * values cost twice as much, and the data path pays it on every connection.
 */
export const writeJsonLine: LineFormat = (w, r) => {
  w.bytes(J_TIME);
  w.isoTime(r.timeMs);
  w.bytes(J_LISTENER);
  w.jsonString(r.listener);
  w.bytes(J_PEER_ADDRESS);
  w.jsonString(r.peerAddress);
  w.bytes(J_PEER_PORT);
  w.int(r.peerPort);
  w.bytes(J_CLIENT_ADDRESS);
  if (r.clientAddress === undefined) w.bytes(J_NULL);
  else w.jsonString(r.clientAddress);
  w.bytes(J_CLIENT_PORT);
  if (r.clientPort === undefined) w.bytes(J_NULL);
  else w.int(r.clientPort);
  w.bytes(J_BACKEND_ID);
  if (r.backendId === undefined) w.bytes(J_NULL);
  else w.jsonString(r.backendId);
  w.bytes(J_BACKEND_ADDRESS);
  if (r.backendAddress === undefined) w.bytes(J_NULL);
  else w.jsonString(r.backendAddress);
  w.bytes(J_BYTES_FROM_CLIENT);
  w.int(r.bytesFromClient);
  w.bytes(J_BYTES_FROM_BACKEND);
  w.int(r.bytesFromBackend);
  w.bytes(J_DURATION);
  w.ms(r.durationMs);
  w.bytes(J_CONNECT);
  if (r.connectMs === undefined) w.bytes(J_NULL);
  else w.ms(r.connectMs);
  w.bytes(J_FIRST_BYTE);
  if (r.firstByteMs === undefined) w.bytes(J_NULL);
  else w.ms(r.firstByteMs);
  w.bytes(J_RETRIES);
  w.int(r.retries);
  w.bytes(J_OUTCOME);
  // Outcomes and closedFirst are fixed identifiers: no escaping needed.
  w.raw(r.outcome);
  w.bytes(J_CLOSED_FIRST);
  if (r.closedFirst === null) {
    w.bytes(J_NULL);
  } else {
    w.byte(0x22);
    w.raw(r.closedFirst);
    w.byte(0x22);
  }
  w.bytes(J_ATTEMPTS);
  w.int(r.attempts);
  w.bytes(J_END);
};

const T_TIME = asciiBytes('time=');
const T_LISTENER = asciiBytes(' listener=');
const T_PEER_ADDRESS = asciiBytes(' peerAddress=');
const T_PEER_PORT = asciiBytes(' peerPort=');
const T_CLIENT_ADDRESS = asciiBytes(' clientAddress=');
const T_CLIENT_PORT = asciiBytes(' clientPort=');
const T_BACKEND_ID = asciiBytes(' backendId=');
const T_BACKEND_ADDRESS = asciiBytes(' backendAddress=');
const T_BYTES_FROM_CLIENT = asciiBytes(' bytesFromClient=');
const T_BYTES_FROM_BACKEND = asciiBytes(' bytesFromBackend=');
const T_DURATION = asciiBytes(' durationMs=');
const T_CONNECT = asciiBytes(' connectMs=');
const T_FIRST_BYTE = asciiBytes(' firstByteMs=');
const T_RETRIES = asciiBytes(' retries=');
const T_OUTCOME = asciiBytes(' outcome=');
const T_CLOSED_FIRST = asciiBytes(' closedFirst=');
const T_ATTEMPTS = asciiBytes(' attempts=');
const ABSENT = 0x2d; // -
const NEWLINE = 0x0a;

/**
 * One line of `key=value` pairs with the JSON keys in the same order.
 * Absent values are `-`; a string that is empty, is `-`, or holds a space,
 * `"`, `=`, `\` or a control character is written as a JSON string.
 */
export const writeTextLine: LineFormat = (w, r) => {
  w.bytes(T_TIME);
  w.isoTime(r.timeMs);
  w.bytes(T_LISTENER);
  w.textString(r.listener);
  w.bytes(T_PEER_ADDRESS);
  w.textString(r.peerAddress);
  w.bytes(T_PEER_PORT);
  w.int(r.peerPort);
  w.bytes(T_CLIENT_ADDRESS);
  if (r.clientAddress === undefined) w.byte(ABSENT);
  else w.textString(r.clientAddress);
  w.bytes(T_CLIENT_PORT);
  if (r.clientPort === undefined) w.byte(ABSENT);
  else w.int(r.clientPort);
  w.bytes(T_BACKEND_ID);
  if (r.backendId === undefined) w.byte(ABSENT);
  else w.textString(r.backendId);
  w.bytes(T_BACKEND_ADDRESS);
  if (r.backendAddress === undefined) w.byte(ABSENT);
  else w.textString(r.backendAddress);
  w.bytes(T_BYTES_FROM_CLIENT);
  w.int(r.bytesFromClient);
  w.bytes(T_BYTES_FROM_BACKEND);
  w.int(r.bytesFromBackend);
  w.bytes(T_DURATION);
  w.ms(r.durationMs);
  w.bytes(T_CONNECT);
  if (r.connectMs === undefined) w.byte(ABSENT);
  else w.ms(r.connectMs);
  w.bytes(T_FIRST_BYTE);
  if (r.firstByteMs === undefined) w.byte(ABSENT);
  else w.ms(r.firstByteMs);
  w.bytes(T_RETRIES);
  w.int(r.retries);
  w.bytes(T_OUTCOME);
  w.raw(r.outcome);
  w.bytes(T_CLOSED_FIRST);
  if (r.closedFirst === null) w.byte(ABSENT);
  else w.raw(r.closedFirst);
  w.bytes(T_ATTEMPTS);
  w.int(r.attempts);
  w.byte(NEWLINE);
};

/** The constant text of a JSON line (the longer format), quotes of closedFirst included. */
const CONSTANT_BYTES =
  [
    J_TIME,
    J_LISTENER,
    J_PEER_ADDRESS,
    J_PEER_PORT,
    J_CLIENT_ADDRESS,
    J_CLIENT_PORT,
    J_BACKEND_ID,
    J_BACKEND_ADDRESS,
    J_BYTES_FROM_CLIENT,
    J_BYTES_FROM_BACKEND,
    J_DURATION,
    J_CONNECT,
    J_FIRST_BYTE,
    J_RETRIES,
    J_OUTCOME,
    J_CLOSED_FIRST,
    J_ATTEMPTS,
    J_END,
  ].reduce((n, b) => n + b.length, 0) + 2;

/** The time and the nine numeric fields. */
const NUMBERS_MAX_BYTES = 10 * NUMBER_MAX_BYTES;

/**
 * Most bytes one record's line can take in either format: reserved before
 * writing, so a line is never cut short by the end of a buffer. Strings count
 * 6 bytes a UTF-16 unit (a `\uXXXX` escape), identifiers 3 (UTF-8).
 */
export function maxLineBytes(r: AccessRecord): number {
  return (
    CONSTANT_BYTES +
    NUMBERS_MAX_BYTES +
    escapedMaxBytes(
      r.listener.length +
        r.peerAddress.length +
        (r.clientAddress?.length ?? 0) +
        (r.backendId?.length ?? 0) +
        (r.backendAddress?.length ?? 0),
    ) +
    // Five strings: escapedMaxBytes added the quotes of one.
    8 +
    3 * (r.outcome.length + (r.closedFirst?.length ?? 0))
  );
}

/** Most bytes a `formatJsonLine`/`formatTextLine` scratch writer keeps between calls. */
const SCRATCH_BYTES = 4096;
let scratch: LineWriter | undefined;

/** One record's line as a string, through the same writer the access log uses. */
function formatLine(format: LineFormat, r: AccessRecord): string {
  const need = maxLineBytes(r);
  let w = scratch;
  if (w === undefined || w.buf.length < need) {
    w = new LineWriter(Math.max(need, SCRATCH_BYTES));
    // An oversized scratch buffer is not kept: one huge line must not pin its memory.
    if (need <= SCRATCH_BYTES) scratch = w;
  }
  w.pos = 0;
  format(w, r);
  return w.buf.toString('utf8', 0, w.pos);
}

/** One JSON line as a string (see `writeJsonLine`). */
export function formatJsonLine(r: AccessRecord): string {
  return formatLine(writeJsonLine, r);
}

/** One text line as a string (see `writeTextLine`). */
export function formatTextLine(r: AccessRecord): string {
  return formatLine(writeTextLine, r);
}

/** `2025-01-02T03:04:05.678Z` for an epoch-ms time. */
export const isoTime = isoTimeString;
