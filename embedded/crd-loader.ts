// Installs the CRDs shipped in crds/*.yaml at start-up, through the server's own API (server-side
// apply, forced, as field manager "outrigger-embedded"), exactly as `kubectl apply` would.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { ResourceService } from './api/service.ts';
import { crdType } from './kinds/crd.ts';
import { isApiError } from './api/errors.ts';

export const CRD_FIELD_MANAGER = 'outrigger-embedded';

export interface CrdDocument {
  file: string;
  crd: Record<string, unknown>;
}

export function readCrdFiles(dir: string): CrdDocument[] {
  if (!existsSync(dir)) return [];
  const out: CrdDocument[] = [];
  for (const name of readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).sort()) {
    const file = join(dir, name);
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      const value = doc.toJSON() as Record<string, unknown> | null;
      if (value && value.kind === 'CustomResourceDefinition') out.push({ file, crd: value });
    }
  }
  return out;
}

export async function installCrds(service: ResourceService, docs: CrdDocument[]): Promise<string[]> {
  const names: string[] = [];
  for (const { file, crd } of docs) {
    const name = String((crd.metadata as Record<string, unknown> | undefined)?.name ?? '');
    try {
      await service.patch({ rt: crdType, namespace: '', name }, 'apply', crd, {
        fieldManager: CRD_FIELD_MANAGER,
        force: true,
        fieldValidation: 'Strict',
        warnings: [],
      });
    } catch (err) {
      const why = isApiError(err) ? err.message : (err as Error).message;
      throw new Error(`cannot install CRD ${name} from ${file}: ${why}`, { cause: err });
    }
    names.push(name);
  }
  return names;
}
