import { dirname, posix } from 'node:path';
import ts from 'typescript';
import type { SourceFile } from './source-files.ts';

/**
 * The dependency rule of src/, lowest layer first: a folder may import its own files and folders
 * of lower layers, never a folder of its own layer or a higher one. Folders of one layer are
 * peers that do not know each other.
 *
 * Where this departs from the order written in issue 18 (`proxy < admin, metrics`), and why:
 * - `metrics` and `access-log` are services the data path reports to (`ProxyMetrics`,
 *   `BackendMetrics`, `AccessLog`); they import only `core`, and `backends` and `proxy` use them,
 *   so they sit with the parsers, below everything that reports to them.
 * - `workers` belongs to `app` (it is moving to app/workers/): one unit with it, so the two may
 *   import each other.
 * - `bench`, `echo` and `import` are commands the CLI runs, peers of `app`.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['core'],
  ['proxy-protocol', 'sni', 'config', 'metrics', 'access-log'],
  ['discovery', 'health', 'balancing'],
  ['backends'],
  ['upstream'],
  ['proxy'],
  ['admin'],
  // Turns Kubernetes objects into listener settings for the app's reload path.
  ['gateway'],
  ['app', 'bench', 'echo', 'import'],
  ['cli'],
];

/** Folders that are parts of one unit: imports between them are internal. */
const UNIT_OF: Readonly<Record<string, string>> = { workers: 'app' };

/** One import of a file under src/ by another. */
export interface ImportEdge {
  /** Importing file, from the repository root: `src/proxy/route.ts`. */
  readonly from: string;
  /** Imported file, from the repository root. */
  readonly to: string;
  /** 1-based line of the import in `from`. */
  readonly line: number;
  /** A worker entry (`new URL('./worker-main.ts', import.meta.url)`): a dependency, not a load. */
  readonly workerEntry: boolean;
}

/** The folder of src/ a file belongs to (`src/discovery/dns/dns-source.ts` → `discovery`). */
export function folderOf(path: string): string {
  const parts = path.split('/');
  return parts.length > 2 ? (parts[1] ?? '') : '';
}

function unitOf(folder: string): string {
  return UNIT_OF[folder] ?? folder;
}

/** The layer index of a folder, or undefined when the rule does not place it. */
export function layerOf(folder: string): number | undefined {
  const unit = unitOf(folder);
  const i = LAYERS.findIndex((layer) => layer.includes(unit));
  return i < 0 ? undefined : i;
}

/** Every import (static, `export ... from`, dynamic, worker entry) of a file under src/. */
export function importsOf(file: SourceFile): ImportEdge[] {
  const out: ImportEdge[] = [];
  const add = (node: ts.Node, specifier: string, workerEntry: boolean): void => {
    if (!specifier.startsWith('.')) return;
    const to = posix.normalize(posix.join(dirname(file.path), specifier));
    const { line } = file.ast.getLineAndCharacterOfPosition(node.getStart(file.ast));
    out.push({ from: file.path, to, line: line + 1, workerEntry });
  };
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier !== undefined &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      add(node, node.moduleSpecifier.text, false);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] !== undefined &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      add(node, node.arguments[0].text, false);
    } else if (
      ts.isNewExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'URL' &&
      node.arguments?.[0] !== undefined &&
      ts.isStringLiteral(node.arguments[0]) &&
      node.arguments[1]?.getText(file.ast) === 'import.meta.url'
    ) {
      add(node, node.arguments[0].text, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(file.ast);
  return out;
}

/** Imports that break the rule, one readable line each. */
export function layerViolations(edges: readonly ImportEdge[]): string[] {
  const out: string[] = [];
  for (const e of edges) {
    const from = folderOf(e.from);
    const to = folderOf(e.to);
    if (unitOf(from) === unitOf(to)) continue;
    const fromLayer = layerOf(from);
    const toLayer = layerOf(to);
    if (fromLayer === undefined || toLayer === undefined) continue; // reported by unplacedFolders
    if (toLayer < fromLayer) continue;
    const why = toLayer === fromLayer ? 'a peer in the same layer' : 'a higher layer';
    out.push(
      `${e.from}:${e.line} ${from} (layer ${fromLayer}) imports ${e.to}: ${to} (layer ${toLayer}) is ${why}`,
    );
  }
  return out;
}

/** Folders of the given files that no layer places. */
export function unplacedFolders(paths: readonly string[]): string[] {
  return [...new Set(paths.map(folderOf))].filter((f) => layerOf(f) === undefined).sort();
}

/**
 * Import cycles between files (worker entries excluded: another thread loads them), each as
 * `a.ts → b.ts → a.ts`, shortest first. Tarjan's strongly connected components, then one
 * shortest cycle through each component's first file, so that every tangle is named once.
 */
export function importCycles(edges: readonly ImportEdge[]): string[] {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    if (e.workerEntry) continue;
    const list = next.get(e.from) ?? [];
    if (!list.includes(e.to)) list.push(e.to);
    next.set(e.from, list);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v) ?? 0);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop(); w !== undefined; w = w === v ? undefined : stack.pop()) {
      onStack.delete(w);
      component.push(w);
    }
    const self = next.get(v)?.includes(v) ?? false;
    if (component.length > 1 || self) components.push(component.sort());
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) connect(v);
  return components
    .map((c) => shortestCycle(c[0] ?? '', new Set(c), next).join(' → '))
    .sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
}

/** The shortest path from `start` back to itself inside one component (breadth first). */
function shortestCycle(
  start: string,
  within: ReadonlySet<string>,
  next: ReadonlyMap<string, readonly string[]>,
): string[] {
  const cameFrom = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i] ?? '';
    for (const w of next.get(v) ?? []) {
      if (!within.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (
          let at: string | undefined = v;
          at !== undefined && at !== start;
          at = cameFrom.get(at)
        )
          path.unshift(at);
        return [start, ...path];
      }
      if (!cameFrom.has(w)) {
        cameFrom.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}
