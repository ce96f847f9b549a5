// Installs CustomResourceDefinitions from YAML files into a test apiserver and waits until they
// are usable: Established, and listed by discovery for every served version (clients such as
// KubernetesObjectApi and kubectl find resources through discovery).
import { readFileSync, globSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
  ApiextensionsV1Api,
  type KubeConfig,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { waitFor } from '../fixtures/wait.ts';
import { apiGet, apiRequest } from './http.ts';

/** Every CustomResourceDefinition document in `dir/*.yaml`, in file-name order, as raw JSON. */
export function readCrdDocuments(dir: string): V1CustomResourceDefinition[] {
  const crds: V1CustomResourceDefinition[] = [];
  for (const file of globSync(join(dir, '*.yaml')).sort()) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
      const value = doc.toJS() as V1CustomResourceDefinition | null;
      if (value?.kind === 'CustomResourceDefinition') crds.push(value);
    }
  }
  return crds;
}

const FIELD_MANAGER = 'outrigger-test-fixture';

/** Applies each CRD (server-side), then waits until all are Established and discoverable. */
export async function installCrds(
  kc: KubeConfig,
  crds: V1CustomResourceDefinition[],
  timeoutMs = 30_000,
): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  // Every rejected CRD is reported at once, with the apiserver's own words (they name the field).
  const rejected: string[] = [];
  for (const crd of crds) {
    const name = crd.metadata?.name;
    if (!name) throw new Error('a CRD document has no metadata.name');
    try {
      await applyCrd(kc, name, crd);
    } catch (err) {
      rejected.push(`CRD ${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (rejected.length > 0) {
    throw new Error(`the apiserver rejected ${rejected.length} CRD(s):\n${rejected.join('\n')}`);
  }
  for (const crd of crds) {
    const name = crd.metadata!.name!;
    await waitFor(
      async () => {
        const current = await api.readCustomResourceDefinition({ name });
        const established = current.status?.conditions?.find((c) => c.type === 'Established');
        if (established?.status === 'True') return true;
        throw new Error(`Established=${established?.status ?? 'absent'} ${established?.message ?? ''}`);
      },
      { description: `CRD ${name} to be Established`, timeoutMs },
    );
    for (const version of crd.spec.versions.filter((v) => v.served)) {
      const path = `/apis/${crd.spec.group}/${version.name}`;
      await waitFor(
        async () => {
          const res = await apiGet(kc, path);
          if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}`);
          const list = JSON.parse(res.body) as { resources?: { name: string }[] };
          return list.resources?.some((r) => r.name === crd.spec.names.plural);
        },
        { description: `discovery to list ${crd.spec.names.plural}.${crd.spec.group}/${version.name}`, timeoutMs },
      );
    }
  }
}

/** Server-side apply of the document exactly as written: creates or updates, idempotent. */
async function applyCrd(kc: KubeConfig, name: string, crd: V1CustomResourceDefinition): Promise<void> {
  const path =
    `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${encodeURIComponent(name)}` +
    `?fieldManager=${FIELD_MANAGER}&force=true`;
  const res = await apiRequest(kc, 'PATCH', path, {
    body: JSON.stringify(crd),
    contentType: 'application/apply-patch+yaml',
    timeoutMs: 30_000,
  });
  if (res.status >= 300) throw new Error(`HTTP ${res.status}: ${statusMessage(res.body)}`);
}

/** The `message` of a Kubernetes Status body (it names the offending fields), else the raw body. */
function statusMessage(body: string): string {
  try {
    return (JSON.parse(body) as { message?: string }).message ?? body;
  } catch {
    return body;
  }
}
