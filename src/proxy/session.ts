/**
 * A client connection's life, split along its seams under ./session/:
 * host.ts (what a session needs from its listener), preamble.ts (PROXY
 * header and ClientHello readers), connect.ts (pick, dial, retry, queue),
 * relay.ts (moving bytes with backpressure), ending.ts (half-close,
 * timeouts, the close primitive, accounting), events.ts (socket and timer
 * trampolines) and session.ts (the state machine tying them together).
 */
export type { HostedSession, SessionHost, SessionSettings } from './session/host.ts';
export { onClientRead } from './session/events.ts';
export { PROXY_HEADER_TIMEOUT_MS, SNI_TIMEOUT_MS } from './session/preamble.ts';
export { CLOSE_GRACE_MS } from './session/ending.ts';
export { EARLY_LIMIT, Session, type SessionState } from './session/session.ts';
