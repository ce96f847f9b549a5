// Decodes the Kubernetes protobuf encoding kubectl's typed clients send for some built-in kinds
// (`kubectl create namespace|configmap|secret` post application/vnd.kubernetes.protobuf).
// Only request bodies are decoded; responses are always JSON, which clients accept.
// Format: the 4-byte magic "k8s\0", then a runtime.Unknown {typeMeta=1, raw=2} whose raw holds
// the object message. Field numbers follow k8s.io/api's generated.proto.
import { badRequest, unsupportedMediaType } from '../api/errors.ts';

export const PROTOBUF_MEDIA_TYPE = 'application/vnd.kubernetes.protobuf';
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type Fields = Map<number, (Buffer | bigint)[]>;

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw badRequest('protobuf: truncated varint');
    const b = buf[pos++]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
    if (shift > 70n) throw badRequest('protobuf: varint too long');
  }
}

function parseMessage(buf: Buffer): Fields {
  const fields: Fields = new Map();
  let pos = 0;
  while (pos < buf.length) {
    const [tag, p1] = readVarint(buf, pos);
    pos = p1;
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    let value: Buffer | bigint;
    if (wire === 0) {
      [value, pos] = readVarint(buf, pos);
    } else if (wire === 2) {
      const [len, p2] = readVarint(buf, pos);
      const end = p2 + Number(len);
      if (end > buf.length) throw badRequest('protobuf: truncated field');
      value = buf.subarray(p2, end);
      pos = end;
    } else if (wire === 1) {
      value = buf.readBigUInt64LE(pos);
      pos += 8;
    } else if (wire === 5) {
      value = BigInt(buf.readUInt32LE(pos));
      pos += 4;
    } else {
      throw badRequest(`protobuf: unsupported wire type ${wire}`);
    }
    const list = fields.get(field) ?? [];
    list.push(value);
    fields.set(field, list);
  }
  return fields;
}

const str = (f: Fields, n: number): string | undefined => {
  const v = f.get(n)?.at(-1);
  return Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
};
const bytes = (f: Fields, n: number): Buffer | undefined => {
  const v = f.get(n)?.at(-1);
  return Buffer.isBuffer(v) ? v : undefined;
};
const int = (f: Fields, n: number): number | undefined => {
  const v = f.get(n)?.at(-1);
  return typeof v === 'bigint' ? Number(BigInt.asIntN(64, v)) : undefined;
};
const bool = (f: Fields, n: number): boolean | undefined => {
  const v = int(f, n);
  return v === undefined ? undefined : v !== 0;
};
const strings = (f: Fields, n: number): string[] => (f.get(n) ?? []).filter(Buffer.isBuffer).map((b) => b.toString('utf8'));
const messages = (f: Fields, n: number): Fields[] => (f.get(n) ?? []).filter(Buffer.isBuffer).map(parseMessage);

function stringMap(f: Fields, n: number, asBase64 = false): Record<string, string> | undefined {
  const entries = messages(f, n);
  if (!entries.length) return undefined;
  const out: Record<string, string> = {};
  for (const e of entries) {
    const key = str(e, 1) ?? '';
    out[key] = asBase64 ? (bytes(e, 2) ?? Buffer.alloc(0)).toString('base64') : (str(e, 2) ?? '');
  }
  return out;
}

function time(f: Fields | undefined): string | undefined {
  if (!f) return undefined;
  const seconds = int(f, 1) ?? 0;
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

function compact<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined || (Array.isArray(o[k]) && (o[k] as unknown[]).length === 0)) delete o[k];
  return o;
}

function objectMeta(f: Fields | undefined): Record<string, unknown> {
  if (!f) return {};
  return compact({
    name: str(f, 1),
    generateName: str(f, 2),
    namespace: str(f, 3),
    uid: str(f, 5),
    resourceVersion: str(f, 6),
    generation: int(f, 7),
    creationTimestamp: time(messages(f, 8)[0]),
    labels: stringMap(f, 11),
    annotations: stringMap(f, 12),
    ownerReferences: messages(f, 13).map((r) =>
      compact({ kind: str(r, 1), name: str(r, 3), uid: str(r, 4), apiVersion: str(r, 5), controller: bool(r, 6), blockOwnerDeletion: bool(r, 7) }),
    ),
    finalizers: strings(f, 14),
  });
}

type Decoder = (f: Fields) => Record<string, unknown>;

const DECODERS: Record<string, Decoder> = {
  'v1/Namespace': (f) => {
    const spec = messages(f, 2)[0];
    return compact({
      metadata: objectMeta(messages(f, 1)[0]),
      spec: spec ? compact({ finalizers: strings(spec, 1) }) : undefined,
    });
  },
  'v1/ConfigMap': (f) =>
    compact({
      metadata: objectMeta(messages(f, 1)[0]),
      data: stringMap(f, 2),
      binaryData: stringMap(f, 3, true),
      immutable: bool(f, 4),
    }),
  'v1/Secret': (f) =>
    compact({
      metadata: objectMeta(messages(f, 1)[0]),
      data: stringMap(f, 2, true),
      type: str(f, 3),
      stringData: stringMap(f, 4),
      immutable: bool(f, 5),
    }),
  'authorization.k8s.io/v1/SelfSubjectAccessReview': (f) => {
    const spec = messages(f, 2)[0];
    const ra = spec && messages(spec, 1)[0];
    const nra = spec && messages(spec, 2)[0];
    return compact({
      metadata: objectMeta(messages(f, 1)[0]),
      spec: compact({
        resourceAttributes: ra
          ? compact({ namespace: str(ra, 1), verb: str(ra, 2), group: str(ra, 3), version: str(ra, 4), resource: str(ra, 5), subresource: str(ra, 6), name: str(ra, 7) })
          : undefined,
        nonResourceAttributes: nra ? compact({ path: str(nra, 1), verb: str(nra, 2) }) : undefined,
      }),
    });
  },
  'authentication.k8s.io/v1/SelfSubjectReview': (f) => compact({ metadata: objectMeta(messages(f, 1)[0]) }),
};

/** The JSON form of a protobuf-encoded built-in object, or 415 for kinds it does not know. */
export function decodeProtobufObject(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) throw badRequest('protobuf: missing the k8s envelope prefix');
  const unknown = parseMessage(body.subarray(4));
  const typeMeta = messages(unknown, 1)[0];
  const apiVersion = (typeMeta && str(typeMeta, 1)) ?? '';
  const kind = (typeMeta && str(typeMeta, 2)) ?? '';
  const decode = DECODERS[`${apiVersion}/${kind}`];
  if (!decode) throw unsupportedMediaType(PROTOBUF_MEDIA_TYPE, ['application/json', 'application/yaml']);
  return { apiVersion, kind, ...decode(parseMessage(bytes(unknown, 2) ?? Buffer.alloc(0))) };
}
