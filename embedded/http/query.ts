// Query parameters as kube-apiserver converts them: booleans like strconv.ParseBool, integers,
// dryRun=All, fieldValidation directives; a value that does not convert is a 400.
import { badRequest, invalid } from '../api/errors.ts';
import type { FieldValidation } from '../api/service.ts';

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

export function boolParam(q: URLSearchParams, name: string): boolean | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  if (v === '' || TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw badRequest(`strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`);
}

export function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax`);
  return Number(v);
}

export function dryRunParam(q: URLSearchParams): boolean {
  const values = q.getAll('dryRun').filter((v) => v !== '');
  for (const v of values) {
    if (v !== 'All') {
      throw invalid('meta.k8s.io', 'CreateOptions', '', [
        { type: 'FieldValueNotSupported', field: 'dryRun', badValue: values, detail: 'supported values: "All"' },
      ]);
    }
  }
  return values.length > 0;
}

export function fieldValidationParam(q: URLSearchParams): FieldValidation {
  const v = q.get('fieldValidation');
  if (v === null || v === '') return 'Warn';
  if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v;
  throw badRequest(`fieldValidation: Unsupported value: ${JSON.stringify(v)}: supported values: "Ignore", "Strict", "Warn"`);
}

export function fieldManagerParam(q: URLSearchParams): string | undefined {
  const v = q.get('fieldManager');
  if (v === null || v === '') return undefined;
  if (v.length > 128) {
    throw invalid('meta.k8s.io', 'PatchOptions', '', [{ type: 'FieldValueTooLong', field: 'fieldManager', detail: 'may not be more than 128 bytes' }]);
  }
  if (/[^\x20-\x7e]/.test(v)) {
    throw invalid('meta.k8s.io', 'PatchOptions', '', [{ type: 'FieldValueInvalid', field: 'fieldManager', badValue: v, detail: 'must only contain printable characters' }]);
  }
  return v;
}
