// CEL source → the AST cel-go's parser builds, on top of @bufbuild/cel's parser, which lacks
// two pieces of kube-apiserver's grammar:
// - optional syntax: `a.?b`, `a[?k]`, and optional entries `[?x]`, `{?k: v}`. Each `?` that
//   starts one is found on the token level (strings and comments are never touched), removed
//   before parsing, and the node at that spot is then rewritten into cel-go's form (`_?._`,
//   `_[?_]`, optional list indices and map entries). Positions are mapped back, so errors point
//   into the text the user wrote.
// - the two-variable macros (`all(k, v, p)`, `exists`, `existsOne`, `transformList`,
//   `transformMap`, `transformMapEntry`) and `optMap`/`optFlatMap`, which the library leaves as
//   plain calls: they are expanded here the way cel-go expands them.
import { parse } from '@bufbuild/cel';
import { clone, create } from '@bufbuild/protobuf';
import {
  ConstantSchema, ExprSchema, Expr_CallSchema, Expr_ComprehensionSchema, Expr_CreateListSchema, Expr_CreateStructSchema,
  Expr_IdentSchema, type Expr,
} from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';

export interface Located {
  offset: number;
  message: string;
}

export interface ParsedRule {
  expr: Expr;
  /** Node id → offset into the source as written. */
  positions: Map<bigint, number>;
}

export type ParseResult = { ok: true; parsed: ParsedRule } | { ok: false; errors: Located[] };

export const ACCUMULATOR = '@result';

interface Token {
  kind: 'ident' | 'literal' | 'punct' | 'comment';
  text: string;
  start: number;
}

const PUNCT = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '+', '-', '*', '/', '%', '?', ':', '.', ',', '(', ')', '[', ']', '{', '}'];
const OPERATOR_WORDS = new Set(['in']);

/** The tokens of `src`, or undefined when it does not lex (the parser then reports why). */
export function tokenize(src: string): Token[] | undefined {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (src.startsWith('//', i)) {
      const nl = src.indexOf('\n', i);
      const end = nl < 0 ? src.length : nl;
      out.push({ kind: 'comment', text: src.slice(i, end), start: i });
      i = end;
      continue;
    }
    const str = /^([rRbB]{0,2})('''|"""|'|")/.exec(src.slice(i, i + 5));
    if (str && (str[1]!.length === 0 || /^(?:[rR]?[bB]?|[bB]?[rR]?)$/.test(str[1]!))) {
      const raw = /[rR]/.test(str[1]!);
      const quote = str[2]!;
      let j = i + str[0].length;
      for (;;) {
        if (j >= src.length) return undefined;
        if (!raw && src[j] === '\\') {
          j += 2;
          continue;
        }
        if (src.startsWith(quote, j)) break;
        if (quote.length === 1 && src[j] === '\n') return undefined;
        j++;
      }
      j += quote.length;
      out.push({ kind: 'literal', text: src.slice(i, j), start: i });
      i = j;
      continue;
    }
    const num = /^(?:0[xX][0-9a-fA-F]+[uU]?|\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+[uU]?)/.exec(src.slice(i));
    if (num) {
      out.push({ kind: 'literal', text: num[0], start: i });
      i += num[0].length;
      continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (ident) {
      out.push({ kind: 'ident', text: ident[0], start: i });
      i += ident[0].length;
      continue;
    }
    const p = PUNCT.find((x) => src.startsWith(x, i));
    if (!p) return undefined;
    out.push({ kind: 'punct', text: p, start: i });
    i += p.length;
  }
  return out;
}

/** A token after which `[` indexes and `.` selects (rather than starting a literal). */
function endsOperand(t: Token | undefined): boolean {
  if (!t) return false;
  if (t.kind === 'literal') return true;
  if (t.kind === 'ident') return !OPERATOR_WORDS.has(t.text);
  return t.text === ')' || t.text === ']' || t.text === '}';
}

/** A token an expression can begin with. */
function startsExpr(t: Token | undefined): boolean {
  if (!t) return false;
  if (t.kind !== 'punct') return !OPERATOR_WORDS.has(t.text);
  return ['(', '[', '{', '!', '-', '.'].includes(t.text);
}

interface Marks {
  /** Original offsets of the removed `?` characters, ascending. */
  removed: number[];
  /** Original offsets of the `.` of `.?f` and the `[` of `x[?k]`. */
  optSelect: Set<number>;
  optIndex: Set<number>;
  /** Original offset of a `[` or `{` literal → indices of its optional entries. */
  optEntries: Map<number, number[]>;
  /** `has(x.?f)`, which cel-go refuses: the offset of `has` → the offset of that `.`. */
  optionalHas: Map<number, number>;
}

function findOptionals(all: Token[]): Marks {
  const tokens = all.filter((t) => t.kind !== 'comment');
  const marks: Marks = { removed: [], optSelect: new Set(), optIndex: new Set(), optEntries: new Map(), optionalHas: new Map() };
  const stack: { kind: 'list' | 'map' | 'has' | 'other'; at: number; entry: number }[] = [];
  const optionalEntryAt = (i: number, owner: { at: number; entry: number }) => {
    const q = tokens[i];
    if (q?.text === '?' && q.kind === 'punct' && startsExpr(tokens[i + 1])) {
      marks.removed.push(q.start);
      const list = marks.optEntries.get(owner.at) ?? [];
      list.push(owner.entry);
      marks.optEntries.set(owner.at, list);
    }
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'punct') continue;
    const prev = tokens[i - 1];
    const next = tokens[i + 1];
    switch (t.text) {
      case '.':
        // `x.?f`, but not `x.?f(...)`, which is no call in cel-go's grammar either.
        if (endsOperand(prev) && next?.text === '?' && next.kind === 'punct' && tokens[i + 2]?.kind === 'ident' && tokens[i + 3]?.text !== '(') {
          marks.removed.push(next.start);
          marks.optSelect.add(t.start);
          const top = stack[stack.length - 1];
          if (top?.kind === 'has' && tokens[i + 3]?.text === ')') marks.optionalHas.set(top.at, t.start);
        }
        break;
      case '[':
        if (endsOperand(prev)) {
          stack.push({ kind: 'other', at: t.start, entry: 0 });
          if (next?.text === '?' && next.kind === 'punct' && startsExpr(tokens[i + 2])) {
            marks.removed.push(next.start);
            marks.optIndex.add(t.start);
          }
        } else {
          const owner = { kind: 'list' as const, at: t.start, entry: 0 };
          stack.push(owner);
          optionalEntryAt(i + 1, owner);
        }
        break;
      case '{': {
        // `Name{...}` builds a message, whose fields are no map entries.
        const message = prev?.kind === 'ident' && !OPERATOR_WORDS.has(prev.text);
        const owner = { kind: message ? ('other' as const) : ('map' as const), at: t.start, entry: 0 };
        stack.push(owner);
        if (owner.kind === 'map') optionalEntryAt(i + 1, owner);
        break;
      }
      case '(': {
        // The global has() macro, whose argument must be a plain selection.
        const isHas = prev?.kind === 'ident' && prev.text === 'has' && tokens[i - 2]?.text !== '.';
        stack.push({ kind: isHas ? 'has' : 'other', at: isHas ? prev.start : t.start, entry: 0 });
        break;
      }
      case ')':
      case ']':
      case '}':
        stack.pop();
        break;
      case ',': {
        const top = stack[stack.length - 1];
        if (top && (top.kind === 'list' || top.kind === 'map')) {
          top.entry++;
          optionalEntryAt(i + 1, top);
        }
        break;
      }
    }
  }
  marks.removed.sort((a, b) => a - b);
  return marks;
}

/** Comments as blanks: the parser refuses one that ends the text without a newline. */
function blankComments(src: string, tokens: Token[] | undefined): string {
  let out = src;
  for (const t of tokens ?? []) if (t.kind === 'comment') out = out.slice(0, t.start) + ' '.repeat(t.text.length) + out.slice(t.start + t.text.length);
  return out;
}

function removeChars(src: string, offsets: number[]): string {
  let out = '';
  let from = 0;
  for (const o of offsets) {
    out += src.slice(from, o);
    from = o + 1;
  }
  return out + src.slice(from);
}

/** Maps offsets in the text given to the parser back to the text as written. */
function originalOffset(removed: number[]): (rewritten: number) => number {
  return (r) => {
    let shift = 0;
    for (const d of removed) {
      if (d - shift <= r) shift++;
      else break;
    }
    return r + shift;
  };
}

class Raiser {
  errors: Located[] = [];
  positions = new Map<bigint, number>();
  private nextId: bigint;
  private readonly marks: Marks;

  constructor(marks: Marks, maxId: bigint) {
    this.marks = marks;
    this.nextId = maxId + 1n;
  }

  private pos(e: Expr): number {
    return this.positions.get(e.id) ?? 0;
  }

  private node(kind: Expr['exprKind'], at: number): Expr {
    const e = create(ExprSchema, { id: this.nextId++, exprKind: kind });
    this.positions.set(e.id, at);
    return e;
  }

  ident(name: string, at: number): Expr {
    return this.node({ case: 'identExpr', value: create(Expr_IdentSchema, { name }) }, at);
  }

  call(fn: string, args: Expr[], at: number, target?: Expr): Expr {
    return this.node({ case: 'callExpr', value: create(Expr_CallSchema, { function: fn, args, target }) }, at);
  }

  bool(v: boolean, at: number): Expr {
    return this.node({ case: 'constExpr', value: create(ConstantSchema, { constantKind: { case: 'boolValue', value: v } }) }, at);
  }

  int(v: bigint, at: number): Expr {
    return this.node({ case: 'constExpr', value: create(ConstantSchema, { constantKind: { case: 'int64Value', value: v } }) }, at);
  }

  string(v: string, at: number): Expr {
    return this.node({ case: 'constExpr', value: create(ConstantSchema, { constantKind: { case: 'stringValue', value: v } }) }, at);
  }

  list(elements: Expr[], at: number): Expr {
    return this.node({ case: 'listExpr', value: create(Expr_CreateListSchema, { elements }) }, at);
  }

  emptyMap(at: number): Expr {
    return this.node({ case: 'structExpr', value: create(Expr_CreateStructSchema, {}) }, at);
  }

  comprehension(at: number, c: { range: Expr; iterVar: string; iterVar2?: string; accuVar: string; init: Expr; cond: Expr; step: Expr; result: Expr }): Expr {
    return this.node(
      {
        case: 'comprehensionExpr',
        value: create(Expr_ComprehensionSchema, {
          iterRange: c.range,
          iterVar: c.iterVar,
          iterVar2: c.iterVar2 ?? '',
          accuVar: c.accuVar,
          accuInit: c.init,
          loopCondition: c.cond,
          loopStep: c.step,
          result: c.result,
        }),
      },
      at,
    );
  }

  private error(at: number, message: string): void {
    this.errors.push({ offset: at, message });
  }

  /** Rewrites bottom-up; returns the replacement for `e` (often `e` itself). */
  raise(e: Expr): Expr {
    const k = e.exprKind;
    switch (k.case) {
      case 'selectExpr': {
        k.value.operand = this.raise(k.value.operand!);
        const optionalHas = k.value.testOnly ? this.marks.optionalHas.get(this.pos(e)) : undefined;
        if (optionalHas !== undefined) {
          this.error(optionalHas, 'invalid argument to has() macro');
          return e;
        }
        if (k.value.testOnly || !this.marks.optSelect.has(this.pos(e))) return e;
        // The field's own position is where its name starts, after `.?`.
        return this.call('_?._', [k.value.operand!, this.string(k.value.field, this.pos(e) + 2)], this.pos(e));
      }
      case 'callExpr': {
        const call = k.value;
        if (call.target) call.target = this.raise(call.target);
        call.args = call.args.map((a) => this.raise(a));
        if (call.function === '_[_]' && call.args.length === 2 && this.marks.optIndex.has(this.pos(e))) call.function = '_[?_]';
        return this.expandMacro(e, call) ?? e;
      }
      case 'listExpr': {
        k.value.elements = k.value.elements.map((x) => this.raise(x));
        const opt = this.marks.optEntries.get(this.pos(e));
        if (opt) k.value.optionalIndices = opt;
        return e;
      }
      case 'structExpr': {
        for (const entry of k.value.entries) {
          if (entry.keyKind.case === 'mapKey') entry.keyKind.value = this.raise(entry.keyKind.value);
          entry.value = this.raise(entry.value!);
        }
        const opt = k.value.messageName ? undefined : this.marks.optEntries.get(this.pos(e));
        for (const i of opt ?? []) if (k.value.entries[i]) k.value.entries[i]!.optionalEntry = true;
        return e;
      }
      case 'comprehensionExpr': {
        const c = k.value;
        c.iterRange = this.raise(c.iterRange!);
        c.accuInit = this.raise(c.accuInit!);
        c.loopCondition = this.raise(c.loopCondition!);
        c.loopStep = this.raise(c.loopStep!);
        c.result = this.raise(c.result!);
        return e;
      }
      default:
        return e;
    }
  }

  private simpleName(e: Expr): string | undefined {
    if (e.exprKind.case === 'identExpr') return e.exprKind.value.name;
    this.error(this.pos(e), 'argument must be a simple name');
    return undefined;
  }

  private iterVars(a: Expr, b: Expr): [string, string] | undefined {
    const k = this.simpleName(a);
    if (k === undefined) return undefined;
    const v = this.simpleName(b);
    if (v === undefined) return undefined;
    if (k === v) {
      this.error(this.pos(b), `duplicate variable name: ${k}`);
      return undefined;
    }
    return [k, v];
  }

  /** cel-go's macros the library does not expand; undefined when `call` is none of them. */
  private expandMacro(e: Expr, call: Extract<Expr['exprKind'], { case: 'callExpr' }>['value']): Expr | undefined {
    const target = call.target;
    const n = call.args.length;
    const at = this.pos(e);
    if (!target) {
      if (call.function === 'has' && n === 1) {
        this.error(this.pos(call.args[0]!), 'invalid argument to has() macro');
        return e;
      }
      return undefined;
    }
    const acc = () => this.ident(ACCUMULATOR, at);
    switch (`${call.function}/${n}`) {
      case 'all/2':
      case 'exists/2':
      case 'exists_one/2':
      case 'map/2':
      case 'map/3':
      case 'filter/2':
        // The library expands these when their variable is a name; here only the error is left.
        this.simpleName(call.args[0]!);
        return e;
      case 'all/3':
      case 'exists/3':
      case 'existsOne/3':
      case 'exists_one/3': {
        const vars = this.iterVars(call.args[0]!, call.args[1]!);
        if (!vars) return e;
        const pred = call.args[2]!;
        const base = { range: target, iterVar: vars[0], iterVar2: vars[1], accuVar: ACCUMULATOR };
        if (call.function === 'all') {
          return this.comprehension(at, { ...base, init: this.bool(true, at), cond: this.call('@not_strictly_false', [acc()], at), step: this.call('_&&_', [acc(), pred], at), result: acc() });
        }
        if (call.function === 'exists') {
          return this.comprehension(at, {
            ...base,
            init: this.bool(false, at),
            cond: this.call('@not_strictly_false', [this.call('!_', [acc()], at)], at),
            step: this.call('_||_', [acc(), pred], at),
            result: acc(),
          });
        }
        return this.comprehension(at, {
          ...base,
          init: this.int(0n, at),
          cond: this.bool(true, at),
          step: this.call('_?_:_', [pred, this.call('_+_', [acc(), this.int(1n, at)], at), acc()], at),
          result: this.call('_==_', [acc(), this.int(1n, at)], at),
        });
      }
      case 'transformList/3':
      case 'transformList/4':
      case 'transformMap/3':
      case 'transformMap/4':
      case 'transformMapEntry/3':
      case 'transformMapEntry/4': {
        const vars = this.iterVars(call.args[0]!, call.args[1]!);
        if (!vars) return e;
        const filter = n === 4 ? call.args[2] : undefined;
        const transform = call.args[n - 1]!;
        let step: Expr;
        if (call.function === 'transformList') step = this.call('_+_', [acc(), this.list([transform], at)], at);
        else if (call.function === 'transformMap') step = this.call('cel.@mapInsert', [acc(), this.ident(vars[0], at), transform], at);
        else step = this.call('cel.@mapInsert', [acc(), transform], at);
        if (filter) step = this.call('_?_:_', [filter, step, acc()], at);
        return this.comprehension(at, {
          range: target,
          iterVar: vars[0],
          iterVar2: vars[1],
          accuVar: ACCUMULATOR,
          init: call.function === 'transformList' ? this.list([], at) : this.emptyMap(at),
          cond: this.bool(true, at),
          step,
          result: acc(),
        });
      }
      case 'sortBy/2': {
        const kind = target.exprKind.case;
        if (kind !== 'listExpr' && kind !== 'selectExpr' && kind !== 'identExpr' && kind !== 'comprehensionExpr' && kind !== 'callExpr') {
          this.error(this.pos(target), 'sortBy can only be applied to a list, identifier, comprehension, call or select expression');
          return e;
        }
        const v = this.simpleName(call.args[0]!);
        if (v === undefined) return e;
        // cel.bind(input, target, input.@sortByAssociatedKeys(input.map(v, key))).
        const input = '@__sortBy_input__';
        const keys = this.comprehension(at, {
          range: this.ident(input, at),
          iterVar: v,
          accuVar: ACCUMULATOR,
          init: this.list([], at),
          cond: this.bool(true, at),
          step: this.call('_+_', [acc(), this.list([call.args[1]!], at)], at),
          result: acc(),
        });
        return this.comprehension(at, {
          range: this.list([], at),
          iterVar: '#unused',
          accuVar: input,
          init: target,
          cond: this.bool(false, at),
          step: this.ident(input, at),
          result: this.call('@sortByAssociatedKeys', [keys], at, this.ident(input, at)),
        });
      }
      case 'optMap/2':
      case 'optFlatMap/2': {
        const arg = call.args[0]!;
        if (arg.exprKind.case !== 'identExpr') {
          this.error(this.pos(arg), `${call.function}() variable name must be a simple identifier`);
          return e;
        }
        const name = arg.exprKind.value.name;
        // cel.bind(name, target.value(), expr), as a comprehension over nothing.
        const bound = this.comprehension(at, {
          range: this.list([], at),
          iterVar: '#unused',
          accuVar: name,
          init: this.call('value', [], at, copyExpr(target, this)),
          cond: this.bool(false, at),
          step: this.ident(name, at),
          result: call.args[1]!,
        });
        const present = call.function === 'optMap' ? this.call('optional.of', [bound], at) : bound;
        return this.call('_?_:_', [this.call('hasValue', [], at, target), present, this.call('optional.none', [], at)], at);
      }
    }
    return undefined;
  }

  /** A fresh id for a copied node, keeping its position. */
  cloneId(e: Expr): bigint {
    const id = this.nextId++;
    this.positions.set(id, this.pos(e));
    return id;
  }
}

/** A deep copy with new ids (cel-go copies a macro's target the same way). */
function copyExpr(e: Expr, r: Raiser): Expr {
  const copy = clone(ExprSchema, e);
  const renumber = (x: Expr, orig: Expr) => {
    x.id = r.cloneId(orig);
    const k = x.exprKind;
    const o = orig.exprKind;
    if (k.case === 'selectExpr' && o.case === 'selectExpr') renumber(k.value.operand!, o.value.operand!);
    else if (k.case === 'callExpr' && o.case === 'callExpr') {
      if (k.value.target && o.value.target) renumber(k.value.target, o.value.target);
      k.value.args.forEach((a, i) => renumber(a, o.value.args[i]!));
    } else if (k.case === 'listExpr' && o.case === 'listExpr') k.value.elements.forEach((a, i) => renumber(a, o.value.elements[i]!));
    else if (k.case === 'structExpr' && o.case === 'structExpr') {
      k.value.entries.forEach((en, i) => {
        const oe = o.value.entries[i]!;
        en.id = r.cloneId(orig);
        if (en.keyKind.case === 'mapKey' && oe.keyKind.case === 'mapKey') renumber(en.keyKind.value, oe.keyKind.value);
        renumber(en.value!, oe.value!);
      });
    } else if (k.case === 'comprehensionExpr' && o.case === 'comprehensionExpr') {
      const a = k.value;
      const b = o.value;
      renumber(a.iterRange!, b.iterRange!);
      renumber(a.accuInit!, b.accuInit!);
      renumber(a.loopCondition!, b.loopCondition!);
      renumber(a.loopStep!, b.loopStep!);
      renumber(a.result!, b.result!);
    }
  };
  renumber(copy, e);
  return copy;
}

/** The largest node id in an expression, so new nodes get ids of their own. */
export function maxId(e: Expr): bigint {
  let m = e.id;
  const visit = (x: Expr | undefined) => {
    if (!x) return;
    if (x.id > m) m = x.id;
    const k = x.exprKind;
    if (k.case === 'selectExpr') visit(k.value.operand);
    else if (k.case === 'callExpr') {
      visit(k.value.target);
      k.value.args.forEach(visit);
    } else if (k.case === 'listExpr') k.value.elements.forEach(visit);
    else if (k.case === 'structExpr') {
      for (const en of k.value.entries) {
        if (en.id > m) m = en.id;
        if (en.keyKind.case === 'mapKey') visit(en.keyKind.value);
        visit(en.value);
      }
    } else if (k.case === 'comprehensionExpr') {
      for (const p of [k.value.iterRange, k.value.accuInit, k.value.loopCondition, k.value.loopStep, k.value.result]) visit(p);
    }
  };
  visit(e);
  return m;
}

/** Parses a rule as kube-apiserver's CEL parser would, or says where and why it does not. */
export function parseRule(src: string): ParseResult {
  const tokens = tokenize(src);
  const marks = tokens ? findOptionals(tokens) : { removed: [], optSelect: new Set<number>(), optIndex: new Set<number>(), optEntries: new Map<number, number[]>(), optionalHas: new Map<number, number>() };
  const rewritten = removeChars(blankComments(src, tokens), marks.removed);
  const toOriginal = originalOffset(marks.removed);
  let parsed;
  try {
    parsed = parse(rewritten);
  } catch (err) {
    return { ok: false, errors: [syntaxError(rewritten, (err as Error).message, toOriginal)] };
  }
  const expr = parsed.expr!;
  const r = new Raiser(marks, maxId(expr));
  for (const [id, offset] of Object.entries(parsed.sourceInfo?.positions ?? {})) r.positions.set(BigInt(id), toOriginal(offset as number));
  const raised = r.raise(expr);
  if (r.errors.length) return { ok: false, errors: r.errors };
  return { ok: true, parsed: { expr: raised, positions: r.positions } };
}

function syntaxError(src: string, message: string, toOriginal: (o: number) => number): Located {
  // @bufbuild/cel reports `<input>:line:col: what`.
  const m = /^<input>:(\d+):(\d+): ([\s\S]*)$/.exec(message);
  if (!m) return { offset: 0, message: `Syntax error: ${message}` };
  const line = Number(m[1]);
  const col = Number(m[2]);
  const offset = src.split('\n').slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0) + col - 1;
  return { offset: toOriginal(offset), message: `Syntax error: ${m[3]}` };
}
