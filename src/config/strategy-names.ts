/** The `--strategy` choices. */
export const STRATEGY_NAMES = [
  'least-conn',
  'round-robin',
  'random',
  'sticky',
  'latency',
  'primary',
] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** The `--sticky-key` choices: the client address, or its address and source port. */
export const STICKY_KEYS = ['client-ip', 'client-ip-port'] as const;
export type StickyKey = (typeof STICKY_KEYS)[number];
