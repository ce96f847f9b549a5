// Content negotiation on Accept: tables for kubectl get, partial object metadata, and the
// aggregated discovery documents kubectl asks for first.

export interface MediaRange {
  type: string;
  params: Record<string, string>;
}

export function parseAccept(header: string | undefined): MediaRange[] {
  if (!header) return [];
  return header.split(',').map((part) => {
    const [type, ...params] = part.split(';').map((s) => s.trim());
    const p: Record<string, string> = {};
    for (const kv of params) {
      const i = kv.indexOf('=');
      if (i > 0) p[kv.slice(0, i).trim().toLowerCase()] = kv.slice(i + 1).trim().replace(/^"|"$/g, '');
    }
    return { type: (type ?? '').toLowerCase(), params: p };
  });
}

export type ResponseShape =
  | { as: 'object' }
  | { as: 'Table'; version: 'v1' | 'v1beta1' }
  | { as: 'PartialObjectMetadata'; version: 'v1' | 'v1beta1' }
  | { as: 'PartialObjectMetadataList'; version: 'v1' | 'v1beta1' };

const jsonish = (t: string) => t === 'application/json' || t === '*/*' || t === 'application/*' || t === '';

/** The first acceptable representation for a resource response, in the client's order. */
export function negotiateShape(header: string | undefined, isList: boolean): ResponseShape | undefined {
  const ranges = parseAccept(header);
  if (!ranges.length) return { as: 'object' };
  for (const r of ranges) {
    if (r.params.as) {
      if (r.type !== 'application/json' || r.params.g !== 'meta.k8s.io') continue;
      const version = r.params.v === 'v1beta1' ? 'v1beta1' : r.params.v === 'v1' ? 'v1' : undefined;
      if (!version) continue;
      if (r.params.as === 'Table') return { as: 'Table', version };
      if (r.params.as === 'PartialObjectMetadata' && !isList) return { as: 'PartialObjectMetadata', version };
      if (r.params.as === 'PartialObjectMetadataList' && isList) return { as: 'PartialObjectMetadataList', version };
      continue;
    }
    if (jsonish(r.type) || r.type === 'application/yaml') return { as: 'object' };
  }
  return undefined;
}

/** kube-apiserver labels every JSON representation, tables included, as application/json. */
export function shapeContentType(_shape: ResponseShape): string {
  return 'application/json';
}

export type DiscoveryShape = 'v2' | 'v2beta1' | 'legacy';

export function negotiateDiscovery(header: string | undefined): DiscoveryShape {
  for (const r of parseAccept(header)) {
    if (r.params.g === 'apidiscovery.k8s.io' && r.params.as === 'APIGroupDiscoveryList') {
      if (r.params.v === 'v2') return 'v2';
      if (r.params.v === 'v2beta1') return 'v2beta1';
      continue;
    }
    if (jsonish(r.type)) return 'legacy';
  }
  return 'legacy';
}
