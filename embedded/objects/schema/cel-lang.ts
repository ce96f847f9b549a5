// A Common Expression Language (CEL) parser and evaluator for the subset CRD validation rules
// use: literals, lists, maps, field selection, indexing, has(), the all/exists/exists_one/map/
// filter macros, arithmetic, comparison, logic with CEL's error-absorbing && and ||, `in`,
// the ternary, and the string/list functions of the Kubernetes CEL environment (size,
// startsWith, endsWith, contains, matches, lowerAscii, upperAscii, trim, indexOf, join, split).
// Anything outside the subset is a parse error, reported rather than silently accepted.

export type Node =
  | { t: 'lit'; v: unknown }
  | { t: 'ident'; name: string }
  | { t: 'select'; target: Node; field: string; test?: boolean }
  | { t: 'index'; target: Node; index: Node }
  | { t: 'call'; fn: string; target?: Node; args: Node[] }
  | { t: 'list'; items: Node[] }
  | { t: 'map'; entries: [Node, Node][] }
  | { t: 'unary'; op: '!' | '-'; arg: Node }
  | { t: 'binary'; op: string; left: Node; right: Node }
  | { t: 'cond'; test: Node; then: Node; else: Node }
  | { t: 'macro'; name: string; target: Node; v: string; args: Node[] };

export class CelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CelError';
  }
}

type Tok = { k: 'num' | 'str' | 'id' | 'op' | 'eof'; v: string; n?: number; pos: number };

const OPS = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '+', '-', '*', '/', '%', '!', '?', ':', '.', ',', '(', ')', '[', ']', '{', '}'];

function unescapeString(body: string, raw: boolean): string {
  if (raw) return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = body[++i];
    switch (n) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'a':
        out += '\x07';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'v':
        out += '\v';
        break;
      case '\\':
      case '"':
      case "'":
      case '`':
      case '?':
        out += n;
        break;
      case 'x': {
        out += String.fromCharCode(parseInt(body.slice(i + 1, i + 3), 16));
        i += 2;
        break;
      }
      case 'u': {
        out += String.fromCharCode(parseInt(body.slice(i + 1, i + 5), 16));
        i += 4;
        break;
      }
      default:
        // CEL rejects unknown escapes; be lenient and keep regex escapes like \. intact.
        out += `\\${n ?? ''}`;
    }
  }
  return out;
}

function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const strStart = /^([rR]?)("""|'''|"|')/.exec(src.slice(i));
    if (strStart) {
      const raw = strStart[1] !== '';
      const q = strStart[2]!;
      let j = i + strStart[0].length;
      let body = '';
      for (;;) {
        if (j >= src.length) throw new CelError(`unterminated string at ${i}`);
        if (src.startsWith(q, j)) break;
        if (src[j] === '\\' && !raw) {
          body += src[j]! + (src[j + 1] ?? '');
          j += 2;
          continue;
        }
        body += src[j];
        j++;
      }
      toks.push({ k: 'str', v: unescapeString(body, raw), pos: i });
      i = j + q.length;
      continue;
    }
    const num = /^(0x[0-9a-fA-F]+|\d+\.\d*(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\.\d+|\d+)[uU]?/.exec(src.slice(i));
    if (num && /[\d.]/.test(c)) {
      if (!(c === '.' && !/\d/.test(src[i + 1] ?? ''))) {
        toks.push({ k: 'num', v: num[0], n: Number(num[1]), pos: i });
        i += num[0].length;
        continue;
      }
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      toks.push({ k: 'id', v: id[0], pos: i });
      i += id[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new CelError(`unexpected character ${JSON.stringify(c)} at ${i}`);
    toks.push({ k: 'op', v: op, pos: i });
    i += op.length;
  }
  toks.push({ k: 'eof', v: '', pos: src.length });
  return toks;
}

const MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

class Parser {
  #toks: Tok[];
  #i = 0;
  constructor(src: string) {
    this.#toks = tokenize(src);
  }
  #peek(): Tok {
    return this.#toks[this.#i]!;
  }
  #next(): Tok {
    return this.#toks[this.#i++]!;
  }
  #is(v: string): boolean {
    const t = this.#peek();
    return (t.k === 'op' || t.k === 'id') && t.v === v;
  }
  #expect(v: string): void {
    const t = this.#next();
    if (t.v !== v) throw new CelError(`expected '${v}' at ${t.pos}, found '${t.v || 'end of input'}'`);
  }
  parse(): Node {
    const e = this.#expr();
    if (this.#peek().k !== 'eof') throw new CelError(`unexpected '${this.#peek().v}' at ${this.#peek().pos}`);
    return e;
  }
  #expr(): Node {
    const test = this.#or();
    if (this.#is('?')) {
      this.#next();
      const then = this.#or();
      this.#expect(':');
      return { t: 'cond', test, then, else: this.#expr() };
    }
    return test;
  }
  #or(): Node {
    let left = this.#and();
    while (this.#is('||')) {
      this.#next();
      left = { t: 'binary', op: '||', left, right: this.#and() };
    }
    return left;
  }
  #and(): Node {
    let left = this.#rel();
    while (this.#is('&&')) {
      this.#next();
      left = { t: 'binary', op: '&&', left, right: this.#rel() };
    }
    return left;
  }
  #rel(): Node {
    let left = this.#add();
    for (;;) {
      const t = this.#peek();
      if ((t.k === 'op' && ['<', '<=', '>', '>=', '==', '!='].includes(t.v)) || (t.k === 'id' && t.v === 'in')) {
        this.#next();
        left = { t: 'binary', op: t.v, left, right: this.#add() };
      } else return left;
    }
  }
  #add(): Node {
    let left = this.#mul();
    while (this.#is('+') || this.#is('-')) {
      const op = this.#next().v;
      left = { t: 'binary', op, left, right: this.#mul() };
    }
    return left;
  }
  #mul(): Node {
    let left = this.#unary();
    while (this.#is('*') || this.#is('/') || this.#is('%')) {
      const op = this.#next().v;
      left = { t: 'binary', op, left, right: this.#unary() };
    }
    return left;
  }
  #unary(): Node {
    if (this.#is('!')) {
      this.#next();
      return { t: 'unary', op: '!', arg: this.#unary() };
    }
    if (this.#is('-')) {
      this.#next();
      return { t: 'unary', op: '-', arg: this.#unary() };
    }
    return this.#member();
  }
  #args(): Node[] {
    const args: Node[] = [];
    this.#expect('(');
    if (!this.#is(')')) {
      args.push(this.#expr());
      while (this.#is(',')) {
        this.#next();
        args.push(this.#expr());
      }
    }
    this.#expect(')');
    return args;
  }
  #member(): Node {
    let node = this.#primary();
    for (;;) {
      if (this.#is('.')) {
        this.#next();
        const name = this.#next();
        if (name.k !== 'id') throw new CelError(`expected a field name at ${name.pos}`);
        if (this.#is('(')) {
          const args = this.#args();
          if (MACROS.has(name.v)) {
            const v = args[0];
            if (!v || v.t !== 'ident') throw new CelError(`${name.v}() needs a variable name as its first argument`);
            node = { t: 'macro', name: name.v, target: node, v: v.name, args: args.slice(1) };
          } else node = { t: 'call', fn: name.v, target: node, args };
        } else node = { t: 'select', target: node, field: name.v };
      } else if (this.#is('[')) {
        this.#next();
        const index = this.#expr();
        this.#expect(']');
        node = { t: 'index', target: node, index };
      } else return node;
    }
  }
  #primary(): Node {
    const t = this.#next();
    if (t.k === 'num') return { t: 'lit', v: t.n };
    if (t.k === 'str') return { t: 'lit', v: t.v };
    if (t.k === 'id') {
      if (t.v === 'true' || t.v === 'false') return { t: 'lit', v: t.v === 'true' };
      if (t.v === 'null') return { t: 'lit', v: null };
      if (this.#is('(')) {
        const args = this.#args();
        if (t.v === 'has') {
          const a = args[0];
          if (args.length !== 1 || !a || a.t !== 'select') throw new CelError('has() needs a field selection, like has(self.field)');
          return { ...a, test: true };
        }
        return { t: 'call', fn: t.v, args };
      }
      return { t: 'ident', name: t.v };
    }
    if (t.v === '(') {
      const e = this.#expr();
      this.#expect(')');
      return e;
    }
    if (t.v === '[') {
      const items: Node[] = [];
      if (!this.#is(']')) {
        items.push(this.#expr());
        while (this.#is(',')) {
          this.#next();
          if (this.#is(']')) break;
          items.push(this.#expr());
        }
      }
      this.#expect(']');
      return { t: 'list', items };
    }
    if (t.v === '{') {
      const entries: [Node, Node][] = [];
      if (!this.#is('}')) {
        for (;;) {
          const k = this.#expr();
          this.#expect(':');
          entries.push([k, this.#expr()]);
          if (!this.#is(',')) break;
          this.#next();
          if (this.#is('}')) break;
        }
      }
      this.#expect('}');
      return { t: 'map', entries };
    }
    throw new CelError(`unexpected '${t.v || 'end of input'}' at ${t.pos}`);
  }
}

const parsed = new Map<string, Node>();

export function parseCel(src: string): Node {
  let n = parsed.get(src);
  if (!n) {
    n = new Parser(src).parse();
    if (parsed.size > 5000) parsed.clear();
    parsed.set(src, n);
  }
  return n;
}

type Env = Record<string, unknown>;

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function celEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => celEquals(x, b[i]));
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && celEquals(a[k], b[k]));
  }
  return false;
}

function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'null_type';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'double';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  return 'map';
}

const regexCache = new Map<string, RegExp>();
function re(pattern: string): RegExp {
  let r = regexCache.get(pattern);
  if (!r) {
    try {
      r = new RegExp(pattern);
    } catch (err) {
      throw new CelError(`invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`);
    }
    regexCache.set(pattern, r);
  }
  return r;
}

function size(v: unknown): number {
  if (typeof v === 'string') return [...v].length;
  if (Array.isArray(v)) return v.length;
  if (isMap(v)) return Object.keys(v).length;
  throw new CelError(`no such overload: size(${typeName(v)})`);
}

function str(v: unknown, fn: string): string {
  if (typeof v !== 'string') throw new CelError(`no such overload: ${typeName(v)}.${fn}()`);
  return v;
}

function callFunction(fn: string, target: unknown, hasTarget: boolean, args: unknown[]): unknown {
  const all = hasTarget ? [target, ...args] : args;
  switch (fn) {
    case 'size':
      return size(all[0]);
    case 'startsWith':
      return str(all[0], fn).startsWith(str(all[1], fn));
    case 'endsWith':
      return str(all[0], fn).endsWith(str(all[1], fn));
    case 'contains':
      return str(all[0], fn).includes(str(all[1], fn));
    case 'matches':
      return re(str(all[1], fn)).test(str(all[0], fn));
    case 'lowerAscii':
      return str(all[0], fn).replace(/[A-Z]/g, (c) => c.toLowerCase());
    case 'upperAscii':
      return str(all[0], fn).replace(/[a-z]/g, (c) => c.toUpperCase());
    case 'trim':
      return str(all[0], fn).trim();
    case 'indexOf':
      return Array.isArray(all[0]) ? all[0].findIndex((x) => celEquals(x, all[1])) : str(all[0], fn).indexOf(str(all[1], fn));
    case 'join':
      if (!Array.isArray(all[0])) throw new CelError('no such overload: join');
      return all[0].join(all[1] === undefined ? '' : str(all[1], fn));
    case 'split':
      return str(all[0], fn).split(str(all[1], fn));
    case 'string':
      return typeof all[0] === 'string' ? all[0] : String(all[0]);
    case 'int': {
      const n = Number(all[0]);
      if (!Number.isFinite(n)) throw new CelError(`cannot convert ${JSON.stringify(all[0])} to int`);
      return Math.trunc(n);
    }
    case 'double':
      return Number(all[0]);
    case 'type':
      return typeName(all[0]);
    case 'isSorted': {
      const l = all[0] as unknown[];
      return l.every((x, i) => i === 0 || (l[i - 1] as number | string) <= (x as number | string));
    }
    default:
      throw new CelError(`undeclared reference to '${fn}'`);
  }
}

function truthy(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') throw new CelError(`no matching overload for '${what}' applied to '(${typeName(v)})'`);
  return v;
}

function compare(op: string, a: unknown, b: unknown): boolean {
  if (!((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string'))) {
    throw new CelError(`no matching overload for '${op}' applied to '(${typeName(a)}, ${typeName(b)})'`);
  }
  switch (op) {
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    default:
      return a >= b;
  }
}

export function evaluate(node: Node, env: Env): unknown {
  switch (node.t) {
    case 'lit':
      return node.v;
    case 'ident':
      if (!(node.name in env)) throw new CelError(`undeclared reference to '${node.name}'`);
      return env[node.name];
    case 'select': {
      const target = evaluate(node.target, env);
      if (!isMap(target)) {
        if (node.test) throw new CelError(`invalid type for field selection: ${typeName(target)}`);
        throw new CelError(`no such key: ${node.field}`);
      }
      const present = Object.prototype.hasOwnProperty.call(target, node.field) && target[node.field] !== undefined;
      if (node.test) return present;
      if (!present) throw new CelError(`no such key: ${node.field}`);
      return target[node.field];
    }
    case 'index': {
      const target = evaluate(node.target, env);
      const index = evaluate(node.index, env);
      if (Array.isArray(target)) {
        if (typeof index !== 'number' || index < 0 || index >= target.length) throw new CelError(`index out of bounds: ${String(index)}`);
        return target[index];
      }
      if (isMap(target) && typeof index === 'string') {
        if (!(index in target)) throw new CelError(`no such key: ${index}`);
        return target[index];
      }
      throw new CelError(`no such overload: ${typeName(target)}[${typeName(index)}]`);
    }
    case 'call': {
      const hasTarget = node.target !== undefined;
      const target = hasTarget ? evaluate(node.target!, env) : undefined;
      return callFunction(node.fn, target, hasTarget, node.args.map((a) => evaluate(a, env)));
    }
    case 'list':
      return node.items.map((i) => evaluate(i, env));
    case 'map': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of node.entries) out[String(evaluate(k, env))] = evaluate(v, env);
      return out;
    }
    case 'unary': {
      const v = evaluate(node.arg, env);
      if (node.op === '!') return !truthy(v, '!_');
      if (typeof v !== 'number') throw new CelError(`no matching overload for '-_' applied to '(${typeName(v)})'`);
      return -v;
    }
    case 'cond':
      return truthy(evaluate(node.test, env), '_?_:_') ? evaluate(node.then, env) : evaluate(node.else, env);
    case 'binary':
      return binary(node, env);
    case 'macro':
      return macro(node, env);
  }
}

function attempt(node: Node, env: Env): { v?: unknown; err?: unknown } {
  try {
    return { v: evaluate(node, env) };
  } catch (err) {
    return { err };
  }
}

function binary(node: Extract<Node, { t: 'binary' }>, env: Env): unknown {
  if (node.op === '&&' || node.op === '||') {
    // CEL's logic is commutative over errors: a decisive side wins even if the other failed.
    const decisive = node.op === '||';
    const l = attempt(node.left, env);
    if (l.err === undefined && truthy(l.v, node.op) === decisive) return decisive;
    const r = attempt(node.right, env);
    if (r.err === undefined && truthy(r.v, node.op) === decisive) return decisive;
    if (l.err !== undefined) throw l.err;
    if (r.err !== undefined) throw r.err;
    return !decisive;
  }
  const a = evaluate(node.left, env);
  const b = evaluate(node.right, env);
  switch (node.op) {
    case '==':
      return celEquals(a, b);
    case '!=':
      return !celEquals(a, b);
    case '<':
    case '<=':
    case '>':
    case '>=':
      return compare(node.op, a, b);
    case 'in':
      if (Array.isArray(b)) return b.some((x) => celEquals(x, a));
      if (isMap(b)) return typeof a === 'string' && a in b;
      throw new CelError(`no matching overload for '@in' applied to '(${typeName(a)}, ${typeName(b)})'`);
    case '+':
      if (typeof a === 'number' && typeof b === 'number') return a + b;
      if (typeof a === 'string' && typeof b === 'string') return a + b;
      if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
      throw new CelError(`no matching overload for '_+_' applied to '(${typeName(a)}, ${typeName(b)})'`);
    case '-':
    case '*':
    case '/':
    case '%': {
      if (typeof a !== 'number' || typeof b !== 'number') {
        throw new CelError(`no matching overload for '_${node.op}_' applied to '(${typeName(a)}, ${typeName(b)})'`);
      }
      if ((node.op === '/' || node.op === '%') && b === 0) throw new CelError(node.op === '/' ? 'division by zero' : 'modulus by zero');
      if (node.op === '-') return a - b;
      if (node.op === '*') return a * b;
      if (node.op === '/') return Number.isInteger(a) && Number.isInteger(b) ? Math.trunc(a / b) : a / b;
      return a % b;
    }
    default:
      throw new CelError(`unsupported operator ${node.op}`);
  }
}

function macro(node: Extract<Node, { t: 'macro' }>, env: Env): unknown {
  const target = evaluate(node.target, env);
  const items = Array.isArray(target) ? target : isMap(target) ? Object.keys(target) : undefined;
  if (!items) throw new CelError(`${node.name}() applies to lists and maps, not ${typeName(target)}`);
  const withVar = (x: unknown): Env => ({ ...env, [node.v]: x });
  const pred = node.args[0];
  if (!pred) throw new CelError(`${node.name}() needs a predicate`);
  switch (node.name) {
    case 'all': {
      let err: unknown;
      for (const x of items) {
        const r = attempt(pred, withVar(x));
        if (r.err !== undefined) err ??= r.err;
        else if (!truthy(r.v, 'all')) return false;
      }
      if (err !== undefined) throw err;
      return true;
    }
    case 'exists': {
      let err: unknown;
      for (const x of items) {
        const r = attempt(pred, withVar(x));
        if (r.err !== undefined) err ??= r.err;
        else if (truthy(r.v, 'exists')) return true;
      }
      if (err !== undefined) throw err;
      return false;
    }
    case 'exists_one':
      return items.filter((x) => truthy(evaluate(pred, withVar(x)), 'exists_one')).length === 1;
    case 'filter':
      return items.filter((x) => truthy(evaluate(pred, withVar(x)), 'filter'));
    case 'map': {
      if (node.args.length === 2) {
        return items.filter((x) => truthy(evaluate(pred, withVar(x)), 'map')).map((x) => evaluate(node.args[1]!, withVar(x)));
      }
      return items.map((x) => evaluate(pred, withVar(x)));
    }
    default:
      throw new CelError(`unknown macro ${node.name}`);
  }
}

/** True when the rule mentions oldSelf (a transition rule, only checked on update). */
export function usesOldSelf(node: Node): boolean {
  switch (node.t) {
    case 'ident':
      return node.name === 'oldSelf';
    case 'lit':
      return false;
    case 'select':
      return usesOldSelf(node.target);
    case 'index':
      return usesOldSelf(node.target) || usesOldSelf(node.index);
    case 'call':
      return (node.target ? usesOldSelf(node.target) : false) || node.args.some(usesOldSelf);
    case 'list':
      return node.items.some(usesOldSelf);
    case 'map':
      return node.entries.some(([k, v]) => usesOldSelf(k) || usesOldSelf(v));
    case 'unary':
      return usesOldSelf(node.arg);
    case 'binary':
      return usesOldSelf(node.left) || usesOldSelf(node.right);
    case 'cond':
      return usesOldSelf(node.test) || usesOldSelf(node.then) || usesOldSelf(node.else);
    case 'macro':
      return usesOldSelf(node.target) || node.args.some(usesOldSelf);
  }
}
