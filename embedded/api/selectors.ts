// Label and field selectors with apimachinery's grammar and error messages:
//   labels: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`, comma-joined.
//   fields: `f=v`, `f==v`, `f!=v`, comma-joined, with `\` escapes; only supported fields.
import { badRequest } from './errors.ts';
import { labelValueErrors, qualifiedNameErrors } from '../objects/meta.ts';

type LabelOp = 'exists' | '!' | '=' | '!=' | 'in' | 'notin' | 'gt' | 'lt';

export interface LabelRequirement {
  key: string;
  op: LabelOp;
  values: string[];
}

export type LabelSelector = LabelRequirement[];

class Lexer {
  pos = 0;
  readonly s: string;
  constructor(s: string) {
    this.s = s;
  }
  skipSpace(): void {
    while (this.pos < this.s.length && /\s/.test(this.s[this.pos]!)) this.pos++;
  }
  peek(): string {
    this.skipSpace();
    return this.s[this.pos] ?? '';
  }
  startsWith(t: string): boolean {
    this.skipSpace();
    return this.s.startsWith(t, this.pos);
  }
  identifier(): string {
    this.skipSpace();
    const m = /^[^\s,=!()<>]+/.exec(this.s.slice(this.pos));
    if (!m) return '';
    this.pos += m[0].length;
    return m[0];
  }
  done(): boolean {
    this.skipSpace();
    return this.pos >= this.s.length;
  }
}

function parseError(detail: string): never {
  throw badRequest(`unable to parse requirement: ${detail}`);
}

function checkKey(key: string): void {
  const errs = qualifiedNameErrors(key);
  if (errs.length) parseError(`values[0][${key}]: Invalid value: ${JSON.stringify(key)}: ${errs.join('; ')}`);
}

function checkValue(key: string, value: string): void {
  const errs = labelValueErrors(value);
  if (errs.length) parseError(`values[0][${key}]: Invalid value: ${JSON.stringify(value)}: ${errs.join('; ')}`);
}

export function parseLabelSelector(input: string | undefined): LabelSelector {
  const reqs: LabelSelector = [];
  if (!input || !input.trim()) return reqs;
  const lx = new Lexer(input);
  for (;;) {
    let op: LabelOp | undefined;
    if (lx.peek() === '!') {
      lx.pos++;
      const key = lx.identifier();
      if (!key) parseError(`found '${lx.peek() || 'EOS'}', expected: identifier after '!'`);
      checkKey(key);
      reqs.push({ key, op: '!', values: [] });
    } else {
      const key = lx.identifier();
      if (!key) parseError(`found '${lx.peek() || 'EOS'}', expected: identifier`);
      checkKey(key);
      if (lx.done() || lx.peek() === ',') {
        reqs.push({ key, op: 'exists', values: [] });
      } else if (lx.startsWith('==')) {
        lx.pos += 2;
        op = '=';
      } else if (lx.startsWith('!=')) {
        lx.pos += 2;
        op = '!=';
      } else if (lx.startsWith('=')) {
        lx.pos += 1;
        op = '=';
      } else if (lx.startsWith('>')) {
        lx.pos += 1;
        op = 'gt';
      } else if (lx.startsWith('<')) {
        lx.pos += 1;
        op = 'lt';
      } else {
        const word = lx.identifier();
        if (word === 'in' || word === 'notin') {
          if (lx.peek() !== '(') parseError(`found '${lx.peek() || 'EOS'}', expected: '('`);
          lx.pos++;
          const values: string[] = [];
          for (;;) {
            if (lx.peek() === ')') {
              lx.pos++;
              break;
            }
            const v = lx.identifier();
            checkValue(key, v);
            values.push(v);
            if (lx.peek() === ',') lx.pos++;
            else if (lx.peek() !== ')') parseError(`found '${lx.peek() || 'EOS'}', expected: ',' or ')'`);
          }
          if (!values.length && word === 'in') parseError(`values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty`);
          reqs.push({ key, op: word, values });
        } else {
          parseError(`found '${word || lx.peek() || 'EOS'}', expected: in, notin, =, ==, !=, gt, lt`);
        }
      }
      if (op) {
        const next = lx.peek();
        if (next && next !== ',' && /[=!()<>]/.test(next)) parseError(`found '${next}', expected: identifier`);
        const v = lx.identifier();
        if ((op === 'gt' || op === 'lt') && !/^-?\d+$/.test(v)) {
          parseError(`values[0]: Invalid value: ${JSON.stringify(v)}: for 'Gt', 'Lt' operators, the value must be an integer`);
        }
        if (op !== 'gt' && op !== 'lt') checkValue(key, v);
        reqs.push({ key, op, values: [v] });
      }
    }
    if (lx.done()) break;
    if (lx.peek() !== ',') parseError(`found '${lx.peek()}', expected: ',' or 'end of string'`);
    lx.pos++;
  }
  return reqs;
}

export function matchesLabels(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return selector.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case 'exists':
        return has;
      case '!':
        return !has;
      case '=':
        return has && v === r.values[0];
      case '!=':
        return !has || v !== r.values[0];
      case 'in':
        return has && r.values.includes(v!);
      case 'notin':
        return !has || !r.values.includes(v!);
      case 'gt':
        return has && /^-?\d+$/.test(v!) && Number(v) > Number(r.values[0]);
      case 'lt':
        return has && /^-?\d+$/.test(v!) && Number(v) < Number(r.values[0]);
    }
  });
}

export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

function splitUnescaped(s: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      cur += c + s[i + 1];
      i++;
    } else if (c === sep) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

function unescape(v: string): string {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\') {
      const n = v[i + 1];
      if (n === '\\' || n === ',' || n === '=') {
        out += n;
        i++;
        continue;
      }
      throw badRequest(`invalid field selector: invalid escape sequence: \\${n ?? ''}`);
    }
    out += c;
  }
  return out;
}

export function parseFieldSelector(input: string | undefined): FieldRequirement[] {
  if (!input || !input.trim()) return [];
  return splitUnescaped(input, ',').map((part) => {
    const m = /^([^=!]*?)(==|!=|=)(.*)$/s.exec(part.trim());
    if (!m) throw badRequest(`invalid selector: '${input}'; can't understand '${part}'`);
    return { field: m[1]!.trim(), op: m[2] === '!=' ? '!=' : '=', value: unescape(m[3]!) };
  });
}

/** Rejects fields the kind does not support, with kube-apiserver's message. */
export function checkFieldSelector(reqs: FieldRequirement[], supported: (field: string) => boolean): void {
  for (const r of reqs) {
    if (!supported(r.field)) throw badRequest(`field label not supported: ${r.field}`);
  }
}

export function matchesFields(reqs: FieldRequirement[], value: (field: string) => string | undefined): boolean {
  return reqs.every((r) => {
    const v = value(r.field) ?? '';
    return r.op === '=' ? v === r.value : v !== r.value;
  });
}
