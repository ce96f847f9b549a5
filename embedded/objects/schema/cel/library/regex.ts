// Kubernetes' regex library: `s.find(re)` and `s.findAll(re[, n])`. Patterns are RE2 (Go's
// regexp) and are checked with the RE2 engine the evaluator uses for matches(), so an illegal
// pattern fails with Go's text ("Illegal regex: error parsing regexp: missing closing ): `(a`").
// That engine only answers yes/no, so the match itself is found by an equivalent JavaScript
// RegExp (RE2 patterns are a subset of what it runs, after the spellings below are translated).
import { RE2JS } from '@bufbuild/re2';
import { INT, STRING, list } from '../types.ts';
import { method, type Overload } from './overload.ts';

const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

const compiled = new Map<string, RegExp>();

/** A global JavaScript RegExp that finds what the RE2 pattern finds; throws Go's error text. */
export function findRegExp(pattern: string): RegExp {
  const hit = compiled.get(pattern);
  if (hit) return hit;
  try {
    RE2JS.compile(pattern);
  } catch (err) {
    throw new Error(`Illegal regex: ${(err as Error).message}`);
  }
  let source = pattern;
  let flags = 'g';
  const lead = /^\(\?([imsU]+)\)/.exec(source);
  if (lead) {
    source = source.slice(lead[0].length);
    for (const f of lead[1]!) if (f !== 'U' && !flags.includes(f)) flags += f;
  }
  source = source
    .replace(/\\Q([\s\S]*?)(?:\\E|$)/g, (_, lit: string) => lit.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&'))
    .replace(/\(\?P</g, '(?<')
    .replace(/\\A/g, '^')
    .replace(/\\z/g, '$(?![\\s\\S])')
    .replace(/\[:(\^?)([a-z]+):\]/g, (m, neg: string, name: string) => (POSIX[name] && !neg ? POSIX[name]! : m))
    .replace(/\\([pP])([A-Z])/g, '\\$1{$2}');
  if (/\\[pP]\{/.test(source)) flags += 'u';
  const re = new RegExp(source, flags);
  compiled.set(pattern, re);
  return re;
}

function find(s: string, pattern: string): string {
  const re = findRegExp(pattern);
  re.lastIndex = 0;
  return re.exec(s)?.[0] ?? '';
}

function findAll(s: string, pattern: string, limit = -1n): string[] {
  const re = findRegExp(pattern);
  const out: string[] = [];
  if (limit === 0n) return out;
  re.lastIndex = 0;
  let prevEnd = -1;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    if (m[0] === '') {
      re.lastIndex++;
      // Go skips an empty match right after the previous match.
      if (m.index === prevEnd) continue;
    }
    out.push(m[0]);
    prevEnd = m.index + m[0].length;
    if (limit > 0n && BigInt(out.length) >= limit) break;
  }
  return out;
}

export const REGEX_OVERLOADS: Overload[] = [
  method('string_find_string', 'find', STRING, [STRING], STRING, find as never),
  method('string_find_all_string', 'findAll', STRING, [STRING], list(STRING), ((s: string, p: string) => findAll(s, p)) as never),
  method('string_find_all_string_int', 'findAll', STRING, [STRING, INT], list(STRING), findAll as never),
];
