import { ConfigError } from '../core/errors.ts';

/** One NGINX directive: `name args… ;` or `name args… { children }`, with where it stands. */
export interface NginxDirective {
  readonly name: string;
  readonly args: readonly string[];
  readonly line: number;
  /** Undefined for a simple directive; the block's directives otherwise. */
  readonly block: readonly NginxDirective[] | undefined;
}

interface Token {
  readonly text: string;
  readonly line: number;
  /** `{`, `}` and `;` outside quotes; quoted text is never one. */
  readonly punct: boolean;
}

function tokenize(file: string, text: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '\n') {
      line++;
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '{' || c === '}' || c === ';') {
      tokens.push({ text: c, line, punct: true });
      i++;
    } else if (c === '"' || c === "'") {
      const start = line;
      let value = '';
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        if (text[i] === '\n') line++;
        value += text.charAt(i);
        i++;
      }
      if (i >= text.length) throw new ConfigError(`${file}:${start}`, 'unterminated quoted string');
      i++;
      tokens.push({ text: value, line: start, punct: false });
    } else {
      let value = '';
      while (i < text.length && !/[\s;{}#]/.test(text[i] as string)) {
        // `${var}` keeps its braces inside one word.
        if (text[i] === '$' && text[i + 1] === '{') {
          const end = text.indexOf('}', i);
          if (end < 0) break;
          value += text.slice(i, end + 1);
          i = end + 1;
          continue;
        }
        value += text.charAt(i);
        i++;
      }
      tokens.push({ text: value, line, punct: false });
    }
  }
  return tokens;
}

/** Parses nginx.conf syntax into directives. Throws ConfigError naming `file:line`. */
export function parseNginxConf(file: string, text: string): NginxDirective[] {
  const tokens = tokenize(file, text);
  let pos = 0;
  const parseBlock = (inside: boolean, openedAt: number): NginxDirective[] => {
    const out: NginxDirective[] = [];
    for (;;) {
      const t = tokens[pos];
      if (t === undefined) {
        if (inside) throw new ConfigError(`${file}:${openedAt}`, 'block is never closed with "}"');
        return out;
      }
      if (t.punct && t.text === '}') {
        if (!inside) throw new ConfigError(`${file}:${t.line}`, 'unexpected "}"');
        pos++;
        return out;
      }
      if (t.punct) throw new ConfigError(`${file}:${t.line}`, `unexpected "${t.text}"`);
      const args: string[] = [];
      pos++;
      for (;;) {
        const a = tokens[pos];
        if (a === undefined) {
          throw new ConfigError(`${file}:${t.line}`, `"${t.text}" does not end with ";" or "{"`);
        }
        pos++;
        if (a.punct && a.text === ';') {
          out.push({ name: t.text, args, line: t.line, block: undefined });
          break;
        }
        if (a.punct && a.text === '{') {
          out.push({ name: t.text, args, line: t.line, block: parseBlock(true, t.line) });
          break;
        }
        if (a.punct) throw new ConfigError(`${file}:${a.line}`, `unexpected "${a.text}"`);
        args.push(a.text);
      }
    }
  };
  return parseBlock(false, 1);
}
