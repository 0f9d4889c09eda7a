export {
  V1_MAX_BYTES,
  V1_PREFIX,
  V2_FIXED_BYTES,
  V2_SIGNATURE,
  type LocalHeader,
  type ProxiedHeader,
  type ProxyAddressInfo,
  type ProxyHeader,
  type ReadResult,
} from './header.ts';
export {
  encodeProxyHeader,
  encodeV1,
  encodeV1Unknown,
  encodeV2,
  encodeV2Local,
  proxyAddressInfo,
  type SocketAddresses,
} from './encode.ts';
export {
  DEFAULT_MAX_V2_LENGTH_BYTES,
  ProxyHeaderReader,
  type ProxyHeaderReaderOptions,
} from './proxy-header-reader.ts';
