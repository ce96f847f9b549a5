// zod schemas of the parts of PVE's answers the client and provider read. Only the fields used are
// declared (objects are loose: PVE adds fields between releases); numbers PVE sometimes sends as
// strings are coerced where that happens (memory, booleans as 0/1).
import { z } from 'zod';

/** PVE's JSON envelope: {"data": ..., "message"?, "errors"?}. */
export const envelope = z.looseObject({
  data: z.unknown().optional(),
  message: z.string().optional(),
  errors: z.record(z.string(), z.unknown()).optional(),
});

export const anything = z.unknown();
export const nothing = z.unknown().transform(() => undefined);

export const loginAnswer = z.looseObject({
  ticket: z.string().min(1),
  CSRFPreventionToken: z.string().min(1),
  username: z.string(),
});

export const versionAnswer = z.looseObject({ version: z.string(), release: z.string().optional() });

export const nodeList = z.array(z.looseObject({ node: z.string(), status: z.string().optional() }));

const flag = z.union([z.number(), z.boolean(), z.string()]).transform((v) => v === 1 || v === true || v === '1');

/** /cluster/resources?type=vm: one entry per guest of the cluster. */
export const vmResources = z.array(
  z.looseObject({
    type: z.string(),
    vmid: z.number().int(),
    node: z.string(),
    name: z.string().optional(),
    status: z.string().optional(),
    tags: z.string().optional(),
    template: flag.optional(),
    lock: z.string().optional(),
  }),
);
export type VmResource = z.output<typeof vmResources>[number];

/** A VM config: keys to PVE's string or number values (memory comes as a string), plus `digest`. */
export const vmConfig = z.record(z.string(), z.union([z.string(), z.number()]).transform((v) => String(v)));

/** /pending: each key with its current value, a pending new value, or a pending delete. */
export const vmPending = z.array(
  z.looseObject({
    key: z.string(),
    value: z.union([z.string(), z.number()]).transform(String).optional(),
    pending: z.union([z.string(), z.number()]).transform(String).optional(),
    delete: z.union([z.number(), z.boolean()]).optional(),
  }),
);

export const vmStatus = z.looseObject({
  status: z.string(),
  qmpstatus: z.string().optional(),
  lock: z.string().optional().nullable(),
  agent: flag.optional(),
});

export const upid = z.string().startsWith('UPID:');
/** A task started, or null when PVE did the work at once (some config updates). */
export const maybeUpid = z.union([upid, z.null()]).optional().transform((v) => v ?? undefined);

export const taskStatus = z.looseObject({
  status: z.string(),
  exitstatus: z.string().optional(),
});

export const taskLog = z.array(z.looseObject({ n: z.number(), t: z.string() }));

export const agentInterfaces = z.looseObject({
  result: z.array(
    z.looseObject({
      name: z.string(),
      'hardware-address': z.string().optional(),
      'ip-addresses': z
        .array(z.looseObject({ 'ip-address': z.string(), 'ip-address-type': z.string(), prefix: z.number().optional() }))
        .optional(),
    }),
  ),
});

export const storageList = z.array(
  z.looseObject({
    storage: z.string(),
    content: z.string().optional(),
    enabled: flag.optional(),
    active: flag.optional(),
    type: z.string().optional(),
  }),
);

export const networkList = z.array(z.looseObject({ iface: z.string(), type: z.string(), active: flag.optional() }));

export const snapshotList = z.array(z.looseObject({ name: z.string(), parent: z.string().optional() }));

/** /access/permissions: ACL path to the privileges held there (1 or 0 for propagation). */
export const permissions = z.record(z.string(), z.record(z.string(), z.union([z.number(), z.boolean()])));
