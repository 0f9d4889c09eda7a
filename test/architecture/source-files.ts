import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/** The repository root (this file is test/architecture/source-files.ts). */
export const ROOT = join(import.meta.dirname, '..', '..');
export const SRC = join(ROOT, 'src');

/** A parsed non-test source file under src/. */
export interface SourceFile {
  /** Path from the repository root with `/` separators: `src/proxy/session.ts`. */
  readonly path: string;
  readonly ast: ts.SourceFile;
}

function walkDir(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walkDir(full));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

/** Every `src/**\/*.ts` that is not a test, parsed (syntax only: no type checking, so it is quick). */
export function sourceFiles(): SourceFile[] {
  return walkDir(SRC)
    .sort()
    .map((full) => ({
      path: relative(ROOT, full).split('\\').join('/'),
      ast: ts.createSourceFile(full, readFileSync(full, 'utf8'), ts.ScriptTarget.Latest, true),
    }));
}

/** `src/proxy/session.ts:12` for a node, as an editor jumps to it. */
export function where(file: SourceFile, node: ts.Node): string {
  const { line } = file.ast.getLineAndCharacterOfPosition(node.getStart(file.ast));
  return `${file.path}:${line + 1}`;
}

/** Call `visit` on every node of the file, depth first. */
export function forEachNode(file: SourceFile, visit: (node: ts.Node) => void): void {
  const walk = (node: ts.Node): void => {
    visit(node);
    ts.forEachChild(node, walk);
  };
  walk(file.ast);
}
