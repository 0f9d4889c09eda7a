export {
  ClientHelloReader,
  DEFAULT_MAX_CLIENT_HELLO_BYTES,
  NOT_TLS_REASON,
  OVERSIZED_REASON,
  type ClientHelloReaderOptions,
  type SniResult,
} from './client-hello-reader.ts';
export { SNI_PATTERN_PLACEHOLDER, matchSniPattern } from './match-sni-pattern.ts';
