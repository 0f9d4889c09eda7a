/**
 * `node bench/render-results.ts bench/results/<time>` prints bench/RESULTS.md
 * from what bench/compare collected there: env.txt, and per measurement a
 * `.meta` file (proxy CPU ticks, command) beside the tool's own output.
 *
 * Medians of the interleaved runs with min–max; proxy CPU per operation from
 * /proc/PID/stat ticks; and the load-bound rule: a throughput ratio is only
 * claimed where the proxies involved kept their core at least
 * `PROXY_BOUND_BUSY_PCT` busy. Otherwise the load generators (one core for
 * load and backends) set the pace, and CPU per operation is the figure.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collect, readBaseline } from './render/parsers.ts';
import { render } from './render/report.ts';
import { keyFigures } from './render/statistics.ts';

if (import.meta.main) {
  const usage =
    'usage: node bench/render-results.ts bench/results/<time> [--baseline KEY-FIGURES.json]\n' +
    '       node bench/render-results.ts --key-figures bench/results/<time> [LABEL]   (prints the JSON)\n';
  const args = process.argv.slice(2);
  if (args[0] === '--key-figures' && args[1] !== undefined) {
    process.stdout.write(
      `${JSON.stringify(keyFigures(collect(args[1]), args[2] ?? 'earlier run'), null, 2)}\n`,
    );
  } else if (
    args[0] !== undefined &&
    !args[0].startsWith('--') &&
    (args.length === 1 || (args[1] === '--baseline' && args[2] !== undefined))
  ) {
    const baseline = args[2] === undefined ? undefined : readBaseline(args[2]);
    const changes = readChangeTable();
    process.stdout.write(
      render({
        ...collect(args[0]),
        ...(baseline === undefined ? {} : { baseline }),
        ...(changes === undefined ? {} : { connectionCostChanges: changes }),
      }),
    );
  } else {
    process.stderr.write(usage);
    process.exit(2);
  }
}

/** bench/config/connection-cost-changes.md, kept by hand beside this script; absent until written. */
function readChangeTable(): string | undefined {
  try {
    const text = readFileSync(
      join(import.meta.dirname, 'config', 'connection-cost-changes.md'),
      'utf8',
    );
    return text.trim() === '' ? undefined : text;
  } catch {
    return undefined;
  }
}
