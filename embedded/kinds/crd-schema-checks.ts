// The parts of kube-apiserver's CRD schema validation that decide whether a CRD is accepted:
// structural schemas (every specified field has a type) and CEL rules that compile and only use
// oldSelf where the old value can be correlated (not inside set or atomic lists).
import { fieldErr, type FieldError } from '../api/errors.ts';
import { CelError, parseCel, usesOldSelf } from '../objects/schema/cel-lang.ts';
import type { JSONSchemaProps } from './types.ts';

export function crdSchemaErrors(root: JSONSchemaProps, base: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!root.type) errs.push(fieldErr.required(`${base}.type`, 'must not be empty at the root'));
  else if (root.type !== 'object') errs.push(fieldErr.invalid(`${base}.type`, root.type, 'must be object at the root'));
  walk(root, base, errs, undefined);
  return errs;
}

function typeOptional(s: JSONSchemaProps): boolean {
  return !!s['x-kubernetes-int-or-string'] || !!s['x-kubernetes-preserve-unknown-fields'];
}

/** `uncorrelatableAt` is the list path under which oldSelf has nothing to compare with. */
function walk(s: JSONSchemaProps, path: string, errs: FieldError[], uncorrelatableAt: string | undefined): void {
  (s['x-kubernetes-validations'] ?? []).forEach((rule, i) => {
    const rulePath = `${path}.x-kubernetes-validations[${i}].rule`;
    let node;
    try {
      node = parseCel(rule.rule);
    } catch (err) {
      errs.push(fieldErr.invalid(rulePath, rule.rule, `compilation failed: ${err instanceof CelError ? err.message : String(err)}`));
      return;
    }
    if (uncorrelatableAt && usesOldSelf(node)) {
      errs.push(fieldErr.invalid(rulePath, rule.rule, `oldSelf cannot be used on the uncorrelatable portion of the schema within ${uncorrelatableAt}`));
    }
  });
  if (s.properties && s.additionalProperties !== undefined && s.additionalProperties !== false) {
    errs.push(fieldErr.forbidden(`${path}.additionalProperties`, 'additionalProperties and properties are mutual exclusive'));
  }
  for (const [name, prop] of Object.entries(s.properties ?? {})) {
    const p = `${path}.properties[${name}]`;
    if (!prop.type && !typeOptional(prop)) errs.push(fieldErr.required(`${p}.type`, 'must not be empty for specified object fields'));
    walk(prop, p, errs, uncorrelatableAt);
  }
  if (s.items) {
    const p = `${path}.items`;
    if (!s.items.type && !typeOptional(s.items)) errs.push(fieldErr.required(`${p}.type`, 'must not be empty for specified array items'));
    const listType = s['x-kubernetes-list-type'];
    walk(s.items, p, errs, uncorrelatableAt ?? (listType === 'map' ? undefined : path));
  }
  if (s.additionalProperties && typeof s.additionalProperties === 'object') {
    const p = `${path}.additionalProperties`;
    if (!s.additionalProperties.type && !typeOptional(s.additionalProperties)) {
      errs.push(fieldErr.required(`${p}.type`, 'must not be empty for specified object fields'));
    }
    walk(s.additionalProperties, p, errs, uncorrelatableAt);
  }
}
