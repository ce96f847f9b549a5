// JSON patch (RFC 6902) through fast-json-patch, with failures reported the way kube-apiserver
// reports them: a malformed patch is 400, a patch that cannot apply is 422.
import jsonpatch from 'fast-json-patch';
import { ApiError, badRequest } from '../../api/errors.ts';

const OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

export function parseJsonPatch(body: unknown): jsonpatch.Operation[] {
  if (!Array.isArray(body)) {
    throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  }
  for (const op of body as Record<string, unknown>[]) {
    if (typeof op !== 'object' || op === null || typeof op.op !== 'string' || !OPS.has(op.op)) {
      throw badRequest(`Unexpected kind: ${String((op as Record<string, unknown> | null)?.op ?? '')}`);
    }
    if (typeof op.path !== 'string') throw badRequest(`unexpected operation ${op.op}: missing path`);
  }
  return body as jsonpatch.Operation[];
}

function unprocessable(message: string): ApiError {
  return new ApiError(422, 'Invalid', message, { causes: [{ reason: 'FieldValueInvalid', message }] });
}

export function applyJsonPatch(doc: Record<string, unknown>, ops: jsonpatch.Operation[]): Record<string, unknown> {
  let current: unknown = structuredClone(doc);
  for (const op of ops) {
    try {
      const result = jsonpatch.applyOperation(current, op, true, true, true);
      if (op.op === 'test' && result.test === false) {
        throw unprocessable(`testing value ${op.path} failed: test failed`);
      }
      current = result.newDocument;
    } catch (err) {
      if (err instanceof ApiError) throw err;
      const e = err as { name?: string; message?: string };
      if (e.name === 'TEST_OPERATION_FAILED' || /Test operation failed/.test(e.message ?? '')) {
        throw unprocessable(`testing value ${op.path} failed: test failed`);
      }
      const what = op.op === 'remove' ? `Unable to remove nonexistent key: ${op.path}` : `${op.op} operation does not apply: doc is missing path: "${op.path}"`;
      throw unprocessable(`${what}: missing value`);
    }
  }
  if (typeof current !== 'object' || current === null || Array.isArray(current)) {
    throw badRequest('the patch did not produce an object');
  }
  return current as Record<string, unknown>;
}
