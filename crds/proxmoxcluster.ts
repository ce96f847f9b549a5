// ProxmoxCluster: a Proxmox VE API endpoint and the defaults for the virtual machines made there.
import { z } from 'zod';
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { KindDefinition } from './kind.ts';
import { secretKeyRef, statusSchema, text, timestamp, withRules } from './common.ts';
import { secretRefTo, type Reference } from './references.ts';

const HOST_IN_URL = '([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)*[a-z]([-a-z0-9]*[a-z0-9])?|[0-9]{1,3}(\\.[0-9]{1,3}){3}|\\[[0-9A-Fa-f:]+\\]';
const API_ENDPOINT = new RegExp(`^https://(${HOST_IN_URL})(:[0-9]{1,5})?/?$`);
const TOKEN_ID = /^[A-Za-z0-9._-]+@[A-Za-z][A-Za-z0-9._-]*![A-Za-z][A-Za-z0-9._-]*$/;
const PEM_CERTIFICATES = /^\s*-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s-]*-----END CERTIFICATE-----\s*$/;
const NODE_NAME = /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$/;
const STORAGE_ID = /^[A-Za-z][A-Za-z0-9._-]*$/;
const BRIDGE = /^[A-Za-z][A-Za-z0-9._-]{0,14}$/;
const POOL = /^[A-Za-z0-9._-]+$/;

export const proxmoxNodeName = () => text(63, NODE_NAME, 'must be a Proxmox node name (letters, digits and "-")');
export const proxmoxStorage = () => text(64, STORAGE_ID, 'must be a Proxmox storage id such as local-lvm');
export const proxmoxBridge = () => text(15, BRIDGE, 'must be a Linux bridge name such as vmbr0 (at most 15 characters)');
const MIN_VMID = 100;
const MAX_VMID = 999_999_999;

export const proxmoxClusterSpecSchema = z
  .strictObject({
    endpoint: text(512, API_ENDPOINT, 'must be an https URL of the Proxmox API such as https://pve.example.com:8006').describe(
      'Base URL of the Proxmox VE API, such as https://pve.example.com:8006. Only https is accepted: the token must never travel in clear.',
    ),
    tokenId: text(256, TOKEN_ID, 'must be a Proxmox API token id: user@realm!tokenname').describe(
      'The API token id, user@realm!tokenname (for example outrigger@pve!controller). Not secret; the token secret is in tokenSecretRef.',
    ),
    tokenSecretRef: secretKeyRef('token').describe('The API token secret (a UUID): a key of a Secret in the same namespace.'),
    tls: withRules(
      z
        .strictObject({
          caBundle: text(65536, PEM_CERTIFICATES, 'must be PEM-encoded certificates (-----BEGIN CERTIFICATE----- ...)')
            .optional()
            .describe('PEM CA certificates that sign the API\'s certificate (for Proxmox\'s own CA, /etc/pve/pve-root-ca.pem). Default: the system roots.'),
          insecureSkipVerify: z
            .boolean()
            .default(false)
            .describe('Skip verifying the API\'s certificate. Only for throwaway test clusters: anyone on the path can then read the token.'),
        })
        .describe('How the API\'s TLS certificate is verified: against caBundle, the system roots, or (explicitly) not at all.'),
      [
        {
          rule: '!has(self.caBundle) || !self.insecureSkipVerify',
          message: 'set either tls.caBundle or tls.insecureSkipVerify, not both',
          fieldPath: '.insecureSkipVerify',
          holds: (t) => t.caBundle === undefined || !t.insecureSkipVerify,
        },
      ],
    ).optional(),
    defaults: z
      .strictObject({
        node: proxmoxNodeName().optional().describe('Node that new virtual machines go to when a resource names none.'),
        storage: proxmoxStorage().optional().describe('Storage for disks of new virtual machines (for example local-lvm).'),
        bridge: proxmoxBridge().optional().describe('Bridge the first network interface of new virtual machines attaches to (for example vmbr0).'),
        pool: text(64, POOL, 'must be a Proxmox pool name (letters, digits, ".", "_" and "-")').optional().describe('Resource pool new virtual machines are added to.'),
      })
      .optional()
      .describe('Placement defaults for virtual machines that Workspaces and Labs create here; they may override each.'),
    vmidRange: withRules(
      z
        .strictObject({
          start: z.number().int().min(MIN_VMID).max(MAX_VMID).describe(`First VMID Outrigger may use (at least ${MIN_VMID}).`),
          end: z.number().int().min(MIN_VMID).max(MAX_VMID).describe(`Last VMID Outrigger may use (at most ${MAX_VMID}).`),
        })
        .describe('The VMIDs Outrigger allocates from, so it never collides with machines managed by hand.'),
      [
        {
          rule: 'self.start <= self.end',
          message: 'vmidRange.start must not be greater than vmidRange.end',
          fieldPath: '.start',
          holds: (r) => r.start <= r.end,
        },
      ],
    ).optional(),
  })
  .describe('Desired state of a ProxmoxCluster: how to reach a Proxmox VE API and where new machines go.');

export const proxmoxClusterStatusSchema = statusSchema('Observed state of a ProxmoxCluster.', {
  reachable: z.boolean().optional().describe('Whether the last API call succeeded with the token.'),
  lastProbeTime: timestamp().optional().describe('When the API was last probed.'),
  version: text(64).optional().describe('Proxmox VE version reported by the API.'),
  nodes: z
    .array(
      z
        .strictObject({
          name: text(63).describe('Node name.'),
          online: z.boolean().optional().describe('Whether the node is online.'),
        })
        .describe('One node of the cluster.'),
    )
    .max(256)
    .optional()
    .describe('Nodes the API reports.'),
});

export type ProxmoxClusterSpec = z.infer<typeof proxmoxClusterSpecSchema>;
export type ProxmoxClusterStatus = z.infer<typeof proxmoxClusterStatusSchema>;
export interface ProxmoxCluster {
  apiVersion: 'outrigger.dev/v1alpha1';
  kind: 'ProxmoxCluster';
  metadata: V1ObjectMeta;
  spec: ProxmoxClusterSpec;
  status?: ProxmoxClusterStatus;
}

/** What a ProxmoxCluster names: its API token's Secret (protected, as a Host's keys are). */
export function proxmoxClusterReferences(spec: ProxmoxClusterSpec): Reference[] {
  return secretRefTo('spec.tokenSecretRef', spec.tokenSecretRef, true);
}

export const proxmoxClusterKind: KindDefinition<typeof proxmoxClusterSpecSchema, typeof proxmoxClusterStatusSchema> = {
  kind: 'ProxmoxCluster',
  plural: 'proxmoxclusters',
  singular: 'proxmoxcluster',
  listKind: 'ProxmoxClusterList',
  shortNames: ['pmxc'],
  description:
    'A ProxmoxCluster is a Proxmox VE API that Workspaces and Labs create virtual machines on: its endpoint, an API token from a Secret, how its certificate is verified, placement defaults and the VMIDs Outrigger may use.',
  spec: proxmoxClusterSpecSchema,
  status: proxmoxClusterStatusSchema,
  references: proxmoxClusterReferences,
  printerColumns: [
    { name: 'Endpoint', type: 'string', jsonPath: '.spec.endpoint', description: 'Proxmox VE API URL.' },
    { name: 'Version', type: 'string', jsonPath: '.status.version', description: 'Proxmox VE version.' },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Ready condition.' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};
