import { describe, expect, it } from 'vitest';
import ts from 'typescript';
import { forEachNode, sourceFiles, where, type SourceFile } from './source-files.ts';

/**
 * Every error Headway throws is a `HeadwayError` subclass with a code from `ErrorCode`, declared
 * in src/core/errors.ts, so callers (and the CLI's exit codes) can tell errors apart by class or
 * code instead of by message. Only src/core/errors.ts may subclass the built-in errors (it defines
 * `HeadwayError`, and `SystemCallError`, which mimics Node's socket errors) or build a plain one.
 */
const ERRORS_FILE = 'src/core/errors.ts';
const BUILT_IN_ERRORS = new Set([
  'Error',
  'TypeError',
  'RangeError',
  'SyntaxError',
  'ReferenceError',
  'EvalError',
  'URIError',
  'AggregateError',
]);

const files = sourceFiles();

function heritageName(node: ts.ClassLikeDeclaration): string | undefined {
  const clause = node.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword);
  const expr = clause?.types[0]?.expression;
  return expr !== undefined && ts.isIdentifier(expr) ? expr.text : undefined;
}

/** Names of the classes that extend HeadwayError, directly or through another subclass. */
function headwayErrorClasses(): Set<string> {
  const parentOf = new Map<string, string>();
  for (const file of files) {
    forEachNode(file, (node) => {
      if (ts.isClassDeclaration(node) && node.name !== undefined) {
        const parent = heritageName(node);
        if (parent !== undefined) parentOf.set(node.name.text, parent);
      }
    });
  }
  const out = new Set<string>(['HeadwayError']);
  for (const name of parentOf.keys()) {
    const seen = new Set<string>();
    for (
      let at: string | undefined = name;
      at !== undefined && !seen.has(at);
      at = parentOf.get(at)
    ) {
      seen.add(at);
      if (at === 'HeadwayError') out.add(name);
    }
  }
  return out;
}

function violationsIn(file: SourceFile, allowed: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const inErrorsFile = file.path === ERRORS_FILE;
  forEachNode(file, (node) => {
    if (ts.isClassLike(node)) {
      const parent = heritageName(node);
      if (parent !== undefined && BUILT_IN_ERRORS.has(parent) && !inErrorsFile) {
        out.push(`${where(file, node)} class extends ${parent} (subclass HeadwayError instead)`);
      }
    }
    if (ts.isNewExpression(node) && ts.isIdentifier(node.expression)) {
      const name = node.expression.text;
      if (BUILT_IN_ERRORS.has(name) && !inErrorsFile) {
        out.push(`${where(file, node)} new ${name}(...) (use a HeadwayError subclass)`);
      }
    }
    if (ts.isThrowStatement(node)) {
      const thrown = node.expression;
      if (ts.isNewExpression(thrown)) {
        const callee = thrown.expression;
        // `new ValueError(...)` or `new v.ValueError(...)`: the class is the last name.
        const name = ts.isIdentifier(callee)
          ? callee.text
          : ts.isPropertyAccessExpression(callee)
            ? callee.name.text
            : callee.getText(file.ast);
        if (!allowed.has(name)) {
          out.push(`${where(file, node)} throw new ${name}(...) (not a HeadwayError subclass)`);
        }
      } else if (
        ts.isStringLiteralLike(thrown) ||
        ts.isTemplateExpression(thrown) ||
        ts.isNumericLiteral(thrown) ||
        ts.isObjectLiteralExpression(thrown)
      ) {
        out.push(`${where(file, node)} throws a literal (throw a HeadwayError subclass)`);
      }
    }
  });
  return out;
}

describe('errors', () => {
  it('finds the source files and the HeadwayError family', () => {
    // Guards against a scan that silently finds nothing (a moved folder, a broken glob).
    expect(files.length).toBeGreaterThan(100);
    const family = headwayErrorClasses();
    for (const name of [
      'ConfigError',
      'ConfigErrors',
      'ListenError',
      'ValueError',
      'InternalError',
    ]) {
      expect(family, name).toContain(name);
    }
  });

  it('every thrown error in src/ is a HeadwayError subclass; only core/errors.ts builds plain ones', () => {
    const allowed = headwayErrorClasses();
    const violations = files.flatMap((file) => violationsIn(file, allowed));
    expect(violations, `\n${violations.join('\n')}\n`).toEqual([]);
  });

  it('the checker reports each kind of violation', () => {
    const sample: SourceFile = {
      path: 'src/sample.ts',
      ast: ts.createSourceFile(
        'src/sample.ts',
        [
          'class Mine extends Error {}',
          'const e = new RangeError("x");',
          'function f(): never { throw new Mine(); }',
          'function g(): never { throw `no`; }',
          'function h(): never { throw new InternalError("ok"); }',
          'const page = `throw new Error("in a string is fine")`;',
        ].join('\n'),
        ts.ScriptTarget.Latest,
        true,
      ),
    };
    expect(violationsIn(sample, new Set(['HeadwayError', 'InternalError']))).toEqual([
      'src/sample.ts:1 class extends Error (subclass HeadwayError instead)',
      'src/sample.ts:2 new RangeError(...) (use a HeadwayError subclass)',
      'src/sample.ts:3 throw new Mine(...) (not a HeadwayError subclass)',
      'src/sample.ts:4 throws a literal (throw a HeadwayError subclass)',
    ]);
  });

  it('every ErrorCode is used by some error in src/', () => {
    const errorsFile = files.find((f) => f.path === ERRORS_FILE);
    expect(errorsFile).toBeDefined();
    const declared: string[] = [];
    forEachNode(errorsFile as SourceFile, (node) => {
      if (ts.isTypeAliasDeclaration(node) && node.name.text === 'ErrorCode') {
        const collect = (n: ts.Node): void => {
          if (ts.isLiteralTypeNode(n) && ts.isStringLiteral(n.literal))
            declared.push(n.literal.text);
          ts.forEachChild(n, collect);
        };
        collect(node.type);
      }
    });
    expect(declared.length).toBeGreaterThan(3);
    const used = new Set<string>();
    for (const file of files) {
      forEachNode(file, (node) => {
        // A code counts as used where it is passed as a value, not where the union declares it.
        if (ts.isStringLiteral(node) && !ts.isLiteralTypeNode(node.parent)) used.add(node.text);
      });
    }
    const unused = declared.filter((code) => !used.has(code));
    expect(unused, 'declared in ErrorCode but never raised').toEqual([]);
  });
});
