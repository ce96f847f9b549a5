// A rule's fieldPath (`.spec.ports['http']`): checked against the schema when the CRD is written
// and turned into the field path failures are reported at, as kube-apiserver's ValidFieldPath
// does (only field and map-key steps; `[...]` names a property or a map key).
import type { JSONSchemaProps } from '../../../kinds/types.ts';

const ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', "'": "'", '\\': '\\' };

function unescapeSingleQuoted(s: string): string | Error {
  let bad: Error | undefined;
  const out = s.replace(/\\./g, (m) => {
    const r = ESCAPES[m[1]!];
    if (r === undefined) bad = new Error(`invalid string literal: invalid escape char ${m}`);
    return r ?? '';
  });
  return bad ?? out;
}

/** Splits into '.', '[', ']' and the text between them ('...' strings kept whole). */
function tokens(path: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < path.length) {
    const c = path[i]!;
    if (c === "'") {
      let j = i + 1;
      while (j < path.length && !(path[j] === "'" && path[j - 1] !== '\\')) j++;
      out.push(path.slice(i, j + 1));
      i = j + 1;
    } else if (c === '.' || c === '[' || c === ']') {
      out.push(c);
      i++;
    } else {
      let j = i;
      while (j < path.length && !'.[]'.includes(path[j]!)) j++;
      out.push(path.slice(i, j));
      i = j;
    }
  }
  return out;
}

export interface FieldPath {
  /** As field.Path prints it: `a.b[key]`. */
  path: string;
  schema: JSONSchemaProps;
}

export function validFieldPath(jsonPath: string, root: JSONSchemaProps): FieldPath | Error {
  let schema: JSONSchemaProps | undefined = root;
  let path = '';
  const step = (name: string): Error | undefined => {
    if (!schema) return new Error('does not refer to a valid field');
    if (schema.properties) {
      path = path ? `${path}.${name}` : name;
      schema = schema.properties[name];
      if (!schema) return new Error('does not refer to a valid field');
    } else if (schema.additionalProperties !== undefined && schema.additionalProperties !== false) {
      path = `${path}[${name}]`;
      schema = typeof schema.additionalProperties === 'object' ? schema.additionalProperties : {};
    } else {
      return new Error('does not refer to a valid field');
    }
    return undefined;
  };
  const toks = tokens(jsonPath);
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t === '[') {
      const lit = toks[++i];
      if (lit === undefined) return new Error('unexpected end of JSON path');
      if (lit.length < 2 || !lit.startsWith("'") || !lit.endsWith("'")) return new Error(`expected single quoted string but got ${lit}`);
      const name = unescapeSingleQuoted(lit.slice(1, -1));
      if (name instanceof Error) return name;
      const err = step(name);
      if (err) return err;
      const close = toks[++i];
      if (close === undefined) return new Error('unexpected end of JSON path');
      if (close !== ']') return new Error(`expected ] but got ${close}`);
    } else if (t === '.') {
      const name = toks[++i];
      if (name === undefined) return new Error('unexpected end of JSON path');
      const err = step(name);
      if (err) return err;
    } else {
      return new Error(`expected [ or . but got: ${t}`);
    }
  }
  return { path, schema: schema ?? root };
}
