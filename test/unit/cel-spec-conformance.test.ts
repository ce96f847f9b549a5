// The cel-spec conformance suite (the data @bufbuild/cel ships in @bufbuild/cel-spec) run
// through the evaluator as the library comes, and through the embedded API server's
// environment, which replaces a few functions (`==`, `!=` and list `+` for kube-apiserver's
// list types, string `<` by bytes, split and string(double) as cel-go) and adds Kubernetes'
// libraries. The second must pass every test the first passes: the additions break none of
// CEL's own semantics. Both shares are printed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { celEnv, celList, celMap, celType, celUint, isCelError, isCelType, parse, plan, type CelEnv } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import { equals as messagesEqual, isMessage, type DescMessage, type Message, type Registry } from '@bufbuild/protobuf';
import type { Value } from '@bufbuild/cel-spec/cel/expr/value_pb.js';
import { getConformanceSuite, type IncrementalTest, type IncrementalTestSuite } from '@bufbuild/cel-spec/testdata/tests.js';
import { getTestRegistry } from '@bufbuild/cel-spec/testdata/registry.js';
import { RE2JS } from '@bufbuild/re2';
import { ENV_FUNCS } from '../../embedded/objects/schema/cel/env.ts';

const registry = getTestRegistry();
const re2 = { compile: (p: string) => RE2JS.compile(p) };

function toValue(v: Value, reg: Registry): unknown {
  const k = v.kind;
  switch (k.case) {
    case 'nullValue':
      return null;
    case 'boolValue':
    case 'int64Value':
    case 'doubleValue':
    case 'stringValue':
    case 'bytesValue':
      return k.value;
    case 'uint64Value':
      return celUint(k.value);
    case 'enumValue':
      return BigInt(k.value.value);
    case 'objectValue':
      return anyUnpack(k.value, reg);
    case 'mapValue':
      return celMap(new Map(k.value.entries.map((e) => [toValue(e.key!, reg), toValue(e.value!, reg)])) as never);
    case 'listValue':
      return celList(k.value.values.map((x) => toValue(x, reg)) as never);
    case 'typeValue':
      return { typeName: k.value };
    default:
      return undefined;
  }
}

const plainEquals = celEnv().funcs.find('_==_')!;

/** A value as the evaluator holds it (messages reflected), for comparing with results. */
const asEvaluated = plan(celEnv({ registry }), parse('x')) as unknown as (b: Record<string, unknown>) => unknown;

/** Same type and equal (NaN equal to itself), as conformance runners compare. */
function same(actual: unknown, expected: unknown): boolean {
  if (expected && typeof expected === 'object' && 'typeName' in expected) return isCelType(actual) && actual.name === (expected as { typeName: string }).typeName;
  if (typeof actual === 'number' && typeof expected === 'number' && Number.isNaN(actual) && Number.isNaN(expected)) return true;
  const a = reflected(actual);
  const b = reflected(expected);
  if (a || b) return !!a && !!b && a.desc.typeName === b.desc.typeName && messagesEqual(a.desc, a.message, b.message);
  try {
    if (celType(actual as never).name !== celType(expected as never).name) return false;
  } catch {
    return false;
  }
  return plainEquals.call(0, undefined, [actual as never, expected as never]) === true;
}

/** A protobuf message result, as the evaluator reflects it. */
function reflected(v: unknown): { desc: DescMessage; message: Message } | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as { desc?: DescMessage; message?: Message };
  if (r.desc && r.message && isMessage(r.message)) return { desc: r.desc, message: r.message };
  return undefined;
}

type Outcome = 'pass' | 'fail' | 'not run';

function runTest(test: IncrementalTest, makeEnv: (container: string) => CelEnv): Outcome {
  const t = test.original;
  const m = t.resultMatcher;
  if (t.checkOnly || m.case === 'unknown' || m.case === 'anyUnknowns') return 'not run';
  const bindings: Record<string, unknown> = {};
  for (const [name, ev] of Object.entries(t.bindings)) {
    if (ev.kind.case !== 'value') return 'not run';
    bindings[name] = toValue(ev.kind.value, registry);
  }
  try {
    const run = plan(makeEnv(t.container), parse(t.expr)) as unknown as (b: Record<string, unknown>) => unknown;
    const r = run(bindings);
    if (m.case === 'evalError' || m.case === 'anyEvalErrors') return isCelError(r) ? 'pass' : 'fail';
    const expected = m.case === 'value' ? m.value : m.case === 'typedResult' ? m.value.result : undefined;
    if (!expected) return isCelError(r) ? 'fail' : 'pass';
    const want = toValue(expected, registry);
    return !isCelError(r) && same(r, typeof want === 'object' && want && 'typeName' in want ? want : asEvaluated({ x: want })) ? 'pass' : 'fail';
  } catch {
    return m.case === 'evalError' || m.case === 'anyEvalErrors' ? 'pass' : 'fail';
  }
}

function allTests(s: IncrementalTestSuite, prefix = ''): { name: string; test: IncrementalTest }[] {
  const here = prefix ? `${prefix}/${s.name}` : s.name;
  return [...s.tests.map((test) => ({ name: `${here}/${test.name}`, test })), ...s.suites.flatMap((x) => allTests(x, here))];
}

/** Suites of extensions @bufbuild/cel does not ship (math, encoders, bindings, blocks) or of syntax its parser lacks. */
const UNIMPLEMENTED_SUITES = ['math_ext', 'encoders_ext', 'bindings_ext', 'block_ext', 'optionals', 'macros2'];

const envs = new Map<string, CelEnv>();
function env(kind: 'library' | 'embedded', container: string): CelEnv {
  const key = `${kind}:${container}`;
  let e = envs.get(key);
  if (!e) {
    e = celEnv({ registry, namespace: container, funcs: kind === 'library' ? strings : ENV_FUNCS, re2 });
    envs.set(key, e);
  }
  return e;
}

describe('cel-spec conformance', () => {
  it("the embedded environment passes every test the library passes", (t) => {
    const tests = allTests(getConformanceSuite());
    const library = new Map<string, Outcome>();
    const embedded = new Map<string, Outcome>();
    for (const { name, test } of tests) {
      library.set(name, runTest(test, (c) => env('library', c)));
      embedded.set(name, runTest(test, (c) => env('embedded', c)));
    }
    const share = (m: Map<string, Outcome>, only = (_: string) => true) => {
      const entries = [...m].filter(([name]) => only(name));
      const run = entries.filter(([, o]) => o !== 'not run').length;
      const pass = entries.filter(([, o]) => o === 'pass').length;
      return { run, pass, text: `${pass} of ${run} (${((100 * pass) / run).toFixed(1)}%)` };
    };
    const implemented = (name: string) => !UNIMPLEMENTED_SUITES.some((s) => name.startsWith(`conformance/${s}/`));
    t.diagnostic(`cel-spec tests: ${tests.length}; evaluated: ${share(library).run}`);
    t.diagnostic(`@bufbuild/cel as it comes passes ${share(library).text}; of the suites for what it implements, ${share(library, implemented).text}`);
    t.diagnostic(`the embedded API server's environment passes ${share(embedded).text}`);
    assert.ok(share(library).run > 1000, 'the suite is there');
    const lost = [...library].filter(([name, o]) => o === 'pass' && embedded.get(name) !== 'pass').map(([name]) => name);
    assert.deepEqual(lost, []);
  });
});
