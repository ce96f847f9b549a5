// Signatures of CEL's standard library, the strings extension and the optional-type functions
// as kube-apiserver's environment declares them, for the type checker. The evaluator
// (@bufbuild/cel) implements the standard library and strings itself.
import { BOOL, BYTES, DOUBLE, DURATION, DYN, INT, STRING, TIMESTAMP, UINT, list, map, param, typeOf, type CelT } from '../types.ts';
import { fn, method, type Overload } from './overload.ts';

const A = param('A');
const K = param('K');
const V = param('V');

const NUMERIC: [string, CelT][] = [
  ['int64', INT],
  ['uint64', UINT],
  ['double', DOUBLE],
];
const ORDERED: [string, CelT][] = [
  ['bool', BOOL],
  ['int64', INT],
  ['uint64', UINT],
  ['double', DOUBLE],
  ['string', STRING],
  ['bytes', BYTES],
  ['timestamp', TIMESTAMP],
  ['duration', DURATION],
];

function comparisons(): Overload[] {
  const out: Overload[] = [];
  for (const [op, id] of [
    ['_<_', 'less'],
    ['_<=_', 'less_equals'],
    ['_>_', 'greater'],
    ['_>=_', 'greater_equals'],
  ] as const) {
    for (const [n, t] of ORDERED) out.push(fn(`${id}_${n}`, op, [t, t], BOOL));
    // Cross-type numeric comparisons (enabled in kube-apiserver's environment since 1.28).
    for (const [a, ta] of NUMERIC) for (const [b, tb] of NUMERIC) if (a !== b) out.push(fn(`${id}_${a}_${b}`, op, [ta, tb], BOOL));
  }
  return out;
}

function arithmetic(): Overload[] {
  const out: Overload[] = [];
  for (const [n, t] of NUMERIC) {
    out.push(fn(`add_${n}`, '_+_', [t, t], t), fn(`subtract_${n}`, '_-_', [t, t], t));
    out.push(fn(`multiply_${n}`, '_*_', [t, t], t), fn(`divide_${n}`, '_/_', [t, t], t));
  }
  out.push(fn('modulo_int64', '_%_', [INT, INT], INT), fn('modulo_uint64', '_%_', [UINT, UINT], UINT));
  out.push(fn('negate_int64', '-_', [INT], INT), fn('negate_double', '-_', [DOUBLE], DOUBLE));
  out.push(
    fn('add_string', '_+_', [STRING, STRING], STRING),
    fn('add_bytes', '_+_', [BYTES, BYTES], BYTES),
    fn('add_list', '_+_', [list(A), list(A)], list(A)),
    fn('add_timestamp_duration', '_+_', [TIMESTAMP, DURATION], TIMESTAMP),
    fn('add_duration_timestamp', '_+_', [DURATION, TIMESTAMP], TIMESTAMP),
    fn('add_duration_duration', '_+_', [DURATION, DURATION], DURATION),
    fn('subtract_timestamp_timestamp', '_-_', [TIMESTAMP, TIMESTAMP], DURATION),
    fn('subtract_timestamp_duration', '_-_', [TIMESTAMP, DURATION], TIMESTAMP),
    fn('subtract_duration_duration', '_-_', [DURATION, DURATION], DURATION),
  );
  return out;
}

function conversions(): Overload[] {
  return [
    fn('int64_to_int64', 'int', [INT], INT),
    fn('uint64_to_int64', 'int', [UINT], INT),
    fn('double_to_int64', 'int', [DOUBLE], INT),
    fn('string_to_int64', 'int', [STRING], INT),
    fn('timestamp_to_int64', 'int', [TIMESTAMP], INT),
    fn('uint64_to_uint64', 'uint', [UINT], UINT),
    fn('int64_to_uint64', 'uint', [INT], UINT),
    fn('double_to_uint64', 'uint', [DOUBLE], UINT),
    fn('string_to_uint64', 'uint', [STRING], UINT),
    fn('double_to_double', 'double', [DOUBLE], DOUBLE),
    fn('int64_to_double', 'double', [INT], DOUBLE),
    fn('uint64_to_double', 'double', [UINT], DOUBLE),
    fn('string_to_double', 'double', [STRING], DOUBLE),
    fn('string_to_string', 'string', [STRING], STRING),
    fn('int64_to_string', 'string', [INT], STRING),
    fn('uint64_to_string', 'string', [UINT], STRING),
    fn('double_to_string', 'string', [DOUBLE], STRING),
    fn('bool_to_string', 'string', [BOOL], STRING),
    fn('bytes_to_string', 'string', [BYTES], STRING),
    fn('timestamp_to_string', 'string', [TIMESTAMP], STRING),
    fn('duration_to_string', 'string', [DURATION], STRING),
    fn('bytes_to_bytes', 'bytes', [BYTES], BYTES),
    fn('string_to_bytes', 'bytes', [STRING], BYTES),
    fn('bool_to_bool', 'bool', [BOOL], BOOL),
    fn('string_to_bool', 'bool', [STRING], BOOL),
    fn('string_to_timestamp', 'timestamp', [STRING], TIMESTAMP),
    fn('timestamp_to_timestamp', 'timestamp', [TIMESTAMP], TIMESTAMP),
    fn('int64_to_timestamp', 'timestamp', [INT], TIMESTAMP),
    fn('string_to_duration', 'duration', [STRING], DURATION),
    fn('duration_to_duration', 'duration', [DURATION], DURATION),
    fn('int64_to_duration', 'duration', [INT], DURATION),
    fn('to_dyn', 'dyn', [A], DYN),
    fn('type', 'type', [A], typeOf(A)),
  ];
}

function timeAccessors(): Overload[] {
  const out: Overload[] = [];
  for (const name of ['getFullYear', 'getMonth', 'getDate', 'getDayOfMonth', 'getDayOfWeek', 'getDayOfYear']) {
    out.push(method(`timestamp_to_${name}`, name, TIMESTAMP, [], INT), method(`timestamp_to_${name}_with_tz`, name, TIMESTAMP, [STRING], INT));
  }
  for (const name of ['getHours', 'getMinutes', 'getSeconds', 'getMilliseconds']) {
    out.push(method(`timestamp_to_${name}`, name, TIMESTAMP, [], INT), method(`timestamp_to_${name}_with_tz`, name, TIMESTAMP, [STRING], INT));
    out.push(method(`duration_to_${name}`, name, DURATION, [], INT));
  }
  return out;
}

function strings(): Overload[] {
  return [
    method('contains_string', 'contains', STRING, [STRING], BOOL),
    method('ends_with_string', 'endsWith', STRING, [STRING], BOOL),
    method('starts_with_string', 'startsWith', STRING, [STRING], BOOL),
    method('matches_string', 'matches', STRING, [STRING], BOOL),
    fn('matches', 'matches', [STRING, STRING], BOOL),
    // The strings extension, version 2.
    method('string_char_at_int', 'charAt', STRING, [INT], STRING),
    method('string_index_of_string', 'indexOf', STRING, [STRING], INT),
    method('string_index_of_string_int', 'indexOf', STRING, [STRING, INT], INT),
    method('string_last_index_of_string', 'lastIndexOf', STRING, [STRING], INT),
    method('string_last_index_of_string_int', 'lastIndexOf', STRING, [STRING, INT], INT),
    method('string_lower_ascii', 'lowerAscii', STRING, [], STRING),
    method('string_upper_ascii', 'upperAscii', STRING, [], STRING),
    method('string_replace_string_string', 'replace', STRING, [STRING, STRING], STRING),
    method('string_replace_string_string_int', 'replace', STRING, [STRING, STRING, INT], STRING),
    method('string_split_string', 'split', STRING, [STRING], list(STRING)),
    method('string_split_string_int', 'split', STRING, [STRING, INT], list(STRING)),
    method('string_substring_int', 'substring', STRING, [INT], STRING),
    method('string_substring_int_int', 'substring', STRING, [INT, INT], STRING),
    method('string_trim', 'trim', STRING, [], STRING),
    method('list_join', 'join', list(STRING), [], STRING),
    method('list_join_string', 'join', list(STRING), [STRING], STRING),
    method('string_format', 'format', STRING, [list(DYN)], STRING),
    fn('strings_quote', 'strings.quote', [STRING], STRING),
  ];
}

function aggregates(): Overload[] {
  const out: Overload[] = [];
  for (const [id, t] of [
    ['string', STRING],
    ['bytes', BYTES],
    ['list', list(A)],
    ['map', map(K, V)],
  ] as const) {
    out.push(fn(`size_${id}`, 'size', [t], INT), method(`${id}_size`, 'size', t, [], INT));
  }
  out.push(
    fn('index_list', '_[_]', [list(A), INT], A),
    fn('index_map', '_[_]', [map(K, V), K], V),
    fn('in_list', '@in', [A, list(A)], BOOL),
    fn('in_map', '@in', [K, map(K, V)], BOOL),
  );
  return out;
}

function logic(): Overload[] {
  return [
    fn('logical_not', '!_', [BOOL], BOOL),
    fn('logical_and', '_&&_', [BOOL, BOOL], BOOL),
    fn('logical_or', '_||_', [BOOL, BOOL], BOOL),
    fn('not_strictly_false', '@not_strictly_false', [BOOL], BOOL),
    fn('conditional', '_?_:_', [BOOL, A, A], A),
    fn('equals', '_==_', [A, A], BOOL),
    fn('not_equals', '_!=_', [A, A], BOOL),
  ];
}

export const STD_OVERLOADS: Overload[] = [
  ...logic(),
  ...comparisons(),
  ...arithmetic(),
  ...conversions(),
  ...timeAccessors(),
  ...strings(),
  ...aggregates(),
];

