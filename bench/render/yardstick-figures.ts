/**
 * Reading what bench/yardstick.ts measured in a run: yardstick.json (per-run
 * values) where the run wrote it, else the table in yardstick.md (medians
 * only), so that runs from before the JSON existed still render.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  YARDSTICK_SCHEMA,
  type YardstickFigures,
  type YardstickReport,
  type YardstickVariant,
  type YardstickVariantId,
} from './model.ts';

export function readYardstick(dir: string): YardstickFigures | undefined {
  const json = readOptional(join(dir, 'yardstick.json'));
  if (json !== undefined) {
    const report = parseYardstickJson(json);
    if (report !== undefined) return { report, source: 'json' };
  }
  const markdown = readOptional(join(dir, 'yardstick.md'));
  const report = markdown === undefined ? undefined : parseYardstickMarkdown(markdown);
  return report === undefined ? undefined : { report, source: 'markdown' };
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** undefined for anything but a headway-yardstick/v1 document (a half-written file, another schema). */
export function parseYardstickJson(text: string): YardstickReport | undefined {
  try {
    const doc = JSON.parse(text) as Partial<YardstickReport>;
    if (doc.schema !== YARDSTICK_SCHEMA || !Array.isArray(doc.variants)) return undefined;
    return doc as YardstickReport;
  } catch {
    return undefined;
  }
}

/**
 * The variant table of yardstick.md: a header row naming the columns, then
 * `| name | 38.7 (1.33× raw) | 229.8 (1.66× raw) | 3.10 |`. Columns are found
 * by their heading and variants by their name, so reordering either is fine;
 * undefined unless both Headway and the raw relay are there.
 */
export function parseYardstickMarkdown(text: string): YardstickReport | undefined {
  const lines = text.split('\n');
  const headerAt = lines.findIndex((l) => /^\|\s*variant\s*\|/.test(l));
  if (headerAt < 0) return undefined;
  const header = cells(lines[headerAt] ?? '');
  const column = (pattern: RegExp): number => header.findIndex((h) => pattern.test(h));
  const rrAt = column(/exchange/i);
  const connectAt = column(/per connection/i);
  const idleAt = column(/idle/i);
  const variants: YardstickVariant[] = [];
  for (const line of lines.slice(headerAt + 2)) {
    if (!line.startsWith('|')) break;
    const row = cells(line);
    const name = row[0] ?? '';
    const id = variantId(name);
    if (id === undefined) continue;
    variants.push({
      id,
      name,
      rrCpuUs: firstNumber(row[rrAt]),
      connectCpuUs: firstNumber(row[connectAt]),
      idleKibPerConnection: firstNumber(row[idleAt]),
    });
  }
  if (!variants.some((v) => v.id === 'headway') || !variants.some((v) => v.id === 'raw-relay'))
    return undefined;
  const how = /\((\d+) interleaved runs of ([\d.]+) s[^;]*; (\d+) idle connections/.exec(text);
  return {
    schema: YARDSTICK_SCHEMA,
    date: /\d{4}-\d\d-\d\dT[\d:.]+Z/.exec(text)?.[0] ?? '?',
    runs: Number(how?.[1] ?? Number.NaN),
    seconds: Number(how?.[2] ?? Number.NaN),
    idle: Number(how?.[3] ?? Number.NaN),
    variants,
  };
}

function cells(line: string): string[] {
  return line
    .split('|')
    .slice(1, -1)
    .map((c) => c.trim());
}

function variantId(name: string): YardstickVariantId | undefined {
  if (/^raw\b/i.test(name)) return 'raw-relay';
  if (!name.startsWith('Headway')) return undefined;
  return /\boff\b/.test(name) ? 'headway-features-off' : 'headway';
}

/** The cell's leading figure ("1,229.8 (1.66× raw)" → [1229.8]); none when the column is missing. */
function firstNumber(cell: string | undefined): number[] {
  const m = /\d[\d,]*(?:\.\d+)?/.exec(cell ?? '');
  return m === null ? [] : [Number(m[0].replaceAll(',', ''))];
}
