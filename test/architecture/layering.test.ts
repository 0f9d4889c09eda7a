import { describe, expect, it } from 'vitest';
import {
  LAYERS,
  importCycles,
  importsOf,
  layerViolations,
  unplacedFolders,
  type ImportEdge,
} from './layering.ts';
import { sourceFiles } from './source-files.ts';

/**
 * The layering of src/ (see LAYERS in layering.ts): imports go only to lower layers, and no
 * two files import each other, directly or round a loop. Tests (`*.test.ts`) are outside the
 * rule. Each failure lists every offending import or cycle, one per line.
 */
const files = sourceFiles();
const edges = files.flatMap(importsOf);

function edge(from: string, to: string, workerEntry = false): ImportEdge {
  return { from, to, line: 1, workerEntry };
}

describe('layering of src/', () => {
  it('reads the imports of the source files', () => {
    // Guards against a scan that silently finds nothing (a moved folder, a parser change).
    expect(files.length).toBeGreaterThan(100);
    expect(edges.length).toBeGreaterThan(300);
    expect(edges.some((e) => e.from === 'src/cli/main.ts')).toBe(true);
  });

  it('places every folder of src/ in a layer', () => {
    expect(unplacedFolders(files.map((f) => f.path)), 'folders missing from LAYERS').toEqual([]);
  });

  it('imports only go down the layers', () => {
    const violations = layerViolations(edges);
    expect(violations, `\n${violations.join('\n')}\n`).toEqual([]);
  });

  it('has no import cycles between files', () => {
    const cycles = importCycles(edges);
    expect(cycles, `\n${cycles.join('\n')}\n`).toEqual([]);
  });
});

describe('the layering checker', () => {
  it('allows imports down and inside a folder, refuses peers and imports up', () => {
    const found = layerViolations([
      edge('src/proxy/route.ts', 'src/core/clock.ts'),
      edge('src/proxy/route.ts', 'src/proxy/session.ts'),
      edge('src/workers/worker-main.ts', 'src/app/proxy-app.ts'),
      edge('src/discovery/create-source.ts', 'src/health/check-plan.ts'),
      edge('src/core/clock.ts', 'src/proxy/route.ts'),
    ]);
    expect(found).toEqual([
      'src/discovery/create-source.ts:1 discovery (layer 2) imports src/health/check-plan.ts: health (layer 2) is a peer in the same layer',
      'src/core/clock.ts:1 core (layer 0) imports src/proxy/route.ts: proxy (layer 5) is a higher layer',
    ]);
  });

  it('names folders that no layer places', () => {
    expect(LAYERS.flat()).toContain('core');
    expect(unplacedFolders(['src/core/a.ts', 'src/mystery/b.ts'])).toEqual(['mystery']);
  });

  it('finds each cycle once, by its shortest loop, and ignores worker entries', () => {
    const cycles = importCycles([
      edge('src/a/x.ts', 'src/a/y.ts'),
      edge('src/a/y.ts', 'src/a/z.ts'),
      edge('src/a/z.ts', 'src/a/x.ts'),
      edge('src/a/y.ts', 'src/a/x.ts'),
      edge('src/b/p.ts', 'src/b/q.ts'),
      edge('src/b/q.ts', 'src/b/p.ts', true),
      edge('src/c/s.ts', 'src/c/s.ts'),
    ]);
    expect(cycles).toEqual(['src/c/s.ts → src/c/s.ts', 'src/a/x.ts → src/a/y.ts → src/a/x.ts']);
  });
});
