// Review APIs that are answered, never stored: SelfSubjectAccessReview (`kubectl auth can-i`)
// and SelfSubjectReview (`kubectl auth whoami`). The embedded server has one user, its
// administrator, who may do everything.
import type { KubeObject } from '../storage/store.ts';
import type { ResourceType } from './types.ts';

export const ADMIN_USER = { username: 'outrigger-embedded-admin', groups: ['system:masters', 'system:authenticated'] };

const anything = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } as const;

function review(group: string, kind: string, plural: string, answer: (req: KubeObject) => Record<string, unknown>): ResourceType {
  return {
    group,
    version: 'v1',
    kind,
    listKind: `${kind}List`,
    plural,
    singular: plural.replace(/s$/, ''),
    shortNames: [],
    categories: [],
    namespaced: false,
    storageResource: `${group}/${plural}`,
    storageVersion: 'v1',
    verbs: ['create'],
    statusSubresource: false,
    tracksGeneration: false,
    schema: { type: 'object', properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: anything, spec: anything, status: anything } },
    builtin: true,
    nameRule: 'path-segment',
    strategicMerge: false,
    returnDeletedObject: false,
    openapiName: `io.k8s.api.${group.split('.')[0]}.v1.${kind}`,
    strategy: {},
    answer: (req) => ({ ...req, apiVersion: `${group}/v1`, kind, metadata: { ...((req.metadata as Record<string, unknown>) ?? {}), creationTimestamp: null }, status: answer(req) }),
  };
}

export const REVIEW_TYPES: ResourceType[] = [
  review('authorization.k8s.io', 'SelfSubjectAccessReview', 'selfsubjectaccessreviews', () => ({
    allowed: true,
    reason: 'the embedded API server has a single administrator, who may do everything',
  })),
  review('authentication.k8s.io', 'SelfSubjectReview', 'selfsubjectreviews', () => ({ userInfo: ADMIN_USER })),
];
