import { ConfigError } from '../core/errors.ts';

/** One line of haproxy.cfg: its keyword and arguments, with quotes and escapes resolved. */
export interface HaproxyLine {
  readonly words: readonly string[];
  readonly line: number;
}

/** A section: `global`, `defaults [NAME]`, `frontend NAME`, `backend NAME`, `listen NAME`, … */
export interface HaproxySection {
  readonly kind: string;
  readonly name: string;
  readonly line: number;
  readonly lines: readonly HaproxyLine[];
}

const SECTION_KEYWORDS = new Set([
  'global',
  'defaults',
  'frontend',
  'backend',
  'listen',
  'resolvers',
  'peers',
  'userlist',
  'program',
  'mailers',
  'cache',
  'http-errors',
  'ring',
]);

/**
 * Splits one line into words as HAProxy does: whitespace separates, `#` starts a comment outside
 * quotes, double quotes keep spaces (escapes such as `\r\n` are kept as written, since Headway's
 * check strings read the same escapes), single quotes keep everything, a backslash escapes a space.
 */
function words(file: string, lineNo: number, text: string): string[] {
  const out: string[] = [];
  let current = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '#') break;
    if (c === ' ' || c === '\t') {
      if (inWord) out.push(current);
      current = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === '\\' && text[i + 1] === ' ') {
      current += ' ';
      i++;
    } else if (c === '"' || c === "'") {
      const end = text.indexOf(c, i + 1);
      if (end < 0) throw new ConfigError(`${file}:${lineNo}`, 'unterminated quoted string');
      current += text.slice(i + 1, end);
      i = end;
    } else current += c;
  }
  if (inWord) out.push(current);
  return out;
}

export function parseHaproxyConf(file: string, text: string): HaproxySection[] {
  const sections: HaproxySection[] = [];
  let current: { kind: string; name: string; line: number; lines: HaproxyLine[] } | undefined;
  text.split('\n').forEach((raw, i) => {
    const w = words(file, i + 1, raw);
    if (w.length === 0) return;
    const keyword = w[0] as string;
    if (SECTION_KEYWORDS.has(keyword)) {
      current = { kind: keyword, name: w[1] ?? '', line: i + 1, lines: [] };
      sections.push(current);
      return;
    }
    if (current === undefined) {
      throw new ConfigError(`${file}:${i + 1}`, `"${keyword}" stands outside any section`);
    }
    current.lines.push({ words: w, line: i + 1 });
  });
  return sections;
}
