/** Lines of the report that describe how the run was made (variants, load, runtime, quiet wait, revision). */
export function variantsText(env: Map<string, string>): string[] {
  if (!env.has('headway_cmd')) return [];
  return [
    'Headway runs as deployed by default: latency tracking on, metrics on (counted in memory; the admin endpoint ' +
      'that would serve them is off, nothing scrapes), active TCP health checks (`auto`: a probe connection every 5 s ' +
      'per backend), plus an access log written to a file in the run directory (`--access-log FILE`). ' +
      '"Headway, tracking off" (`--latency-tracking off`, no access log, otherwise the same) is measured right after ' +
      'Headway in the request/response tests at 50 connections and in the connection-rate tests: see ' +
      '"Latency tracking and access log: on / off".',
    '',
  ];
}

export function loadText(env: Map<string, string>): string | undefined {
  const start = env.get('loadavg_start');
  if (start === undefined) return 'not recorded';
  const end = env.get('loadavg_end');
  return (
    `${start} before the run` +
    (end === undefined ? '' : `, ${end} at its end (bench/compare itself keeps both cores busy)`)
  );
}

export function runtimeText(env: Map<string, string>): string {
  if (env.get('headway_runtime') !== 'compiled') {
    return '.ts sources through Node.js type stripping (`node src/cli/main.ts`)';
  }
  const build = env.get('headway_build') ?? 'ok';
  return (
    'JavaScript compiled by tsc (`npm run build -- --outDir <run dir>/dist`, then `node <run dir>/dist/cli/main.js`)' +
    (build === 'ok'
      ? ''
      : `. tsc reported errors (${build}); it emits the JavaScript regardless, and that is what ran`)
  );
}

export function quietText(env: Map<string, string>): string | undefined {
  const left = env.get('quiet_budget_left');
  if (left === undefined) return undefined;
  if (Number(env.get('nice') ?? 0) < 0) return 'none: raised priority instead';
  return `${90 - Number(left)} s of the 90 s budget used`;
}

/** The commit, and whether the working tree differed from it (the data path is measured as it was). */
export function headwayText(raw: string | undefined): string | undefined {
  const m = /^(\S+) \(modified(?:, diff (\S+))?\)$/.exec(raw ?? '');
  if (m === null) return raw;
  const diff = m[2] === undefined ? '' : ` (diff sha256 ${m[2]})`;
  return `${m[1] ?? ''} plus uncommitted changes in src/${diff}`;
}
