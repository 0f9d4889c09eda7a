/** The `--strategy` choices; the balancing issue adds more. */
export const STRATEGY_NAMES = ['least-conn', 'round-robin'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];
