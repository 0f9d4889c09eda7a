export {
  ActiveHealthChecker,
  type ActiveHealthCheckerOptions,
  type HealthChangeListener,
  type HealthStatus,
  type HealthTarget,
  type ProbeFn,
} from './active-checker.ts';
export {
  formatCheckBytes,
  formatCheckExpect,
  parseCheckExpect,
  parseCheckSend,
  type CheckExpect,
} from './check-string.ts';
export {
  DEFAULT_BASE_EJECT_MS,
  DEFAULT_MAX_EJECT_MS,
  OutlierDetector,
  type OutlierDetectorOptions,
} from './outlier-detector.ts';
export { usableOrAll, type PanicSelection } from './panic.ts';
export {
  PROBE_READ_LIMIT_BYTES,
  probe,
  type ProbeOptions,
  type ProbeResult,
  type ProbeTarget,
} from './tcp-probe.ts';
