// Kubernetes' regex library: `s.find(re)` and `s.findAll(re[, n])`, with RE2 semantics (re2js,
// a port of RE2 that reports where a match is; @bufbuild/re2, which runs matches(), only says
// whether there is one). An illegal pattern fails with Go's text ("Illegal regex: error parsing
// regexp: missing closing ): `(a`"); findAll walks the string as Go's FindAllString does.
import { RE2JS } from 're2js';
import { INT, STRING, list } from '../types.ts';
import { method, type Overload } from './overload.ts';

const compiled = new Map<string, RE2JS>();

export function compileRE2(pattern: string): RE2JS {
  let re = compiled.get(pattern);
  if (!re) {
    try {
      re = RE2JS.compile(pattern);
    } catch (err) {
      throw new Error(`Illegal regex: ${(err as Error).message}`);
    }
    if (compiled.size > 1000) compiled.clear();
    compiled.set(pattern, re);
  }
  return re;
}

function find(s: string, pattern: string): string {
  const m = compileRE2(pattern).matcher(s);
  return m.find(0) ? (m.group() ?? '') : '';
}

/** Go's allMatches: an empty match right after the previous match does not count. */
function findAll(s: string, pattern: string, limit = -1n): string[] {
  const out: string[] = [];
  if (limit === 0n) return out;
  const m = compileRE2(pattern).matcher(s);
  let pos = 0;
  let prevEnd = -1;
  while (pos <= s.length && (limit < 0n || BigInt(out.length) < limit)) {
    if (!m.find(pos)) break;
    const start = m.start();
    const end = m.end();
    let accept = true;
    if (end === pos) {
      if (start === prevEnd) accept = false;
      const c = s.codePointAt(pos);
      pos += c === undefined ? 1 : c > 0xffff ? 2 : 1;
    } else {
      pos = end;
    }
    prevEnd = end;
    if (accept) out.push(s.slice(start, end));
  }
  return out;
}

export const REGEX_OVERLOADS: Overload[] = [
  method('string_find_string', 'find', STRING, [STRING], STRING, find as never),
  method('string_find_all_string', 'findAll', STRING, [STRING], list(STRING), ((s: string, p: string) => findAll(s, p)) as never),
  method('string_find_all_string_int', 'findAll', STRING, [STRING, INT], list(STRING), findAll as never),
];
