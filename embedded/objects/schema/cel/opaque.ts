// Kubernetes' CEL library types (kubernetes.URL, kubernetes.Quantity, net.IP, net.CIDR,
// kubernetes.NamedFormat) and optional_type, as values the evaluator can carry. @bufbuild/cel
// carries custom types as protobuf messages, so each is a message with one `key` field holding
// the value's canonical text (equality compares keys: quantity("1Gi") == quantity("1024Mi")),
// and the parsed value rides along in a side table.
import { create, createFileRegistry, createRegistry, type DescMessage, type Message, type Registry } from '@bufbuild/protobuf';
import type { ReflectMessage } from '@bufbuild/protobuf/reflect';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { objectType, type CelType } from '@bufbuild/cel';

const TYPE_STRING = 9;
const LABEL_OPTIONAL = 1;

function file(name: string, pkg: string, messages: string[]) {
  return create(FileDescriptorProtoSchema, {
    name,
    package: pkg,
    syntax: 'proto3',
    messageType: messages.map((m) => ({ name: m, field: [{ name: 'key', jsonName: 'key', number: 1, type: TYPE_STRING, label: LABEL_OPTIONAL }] })),
  });
}

const kubernetes = createFileRegistry(file('outrigger/cel/kubernetes.proto', 'kubernetes', ['URL', 'Quantity', 'NamedFormat']), () => undefined);
const net = createFileRegistry(file('outrigger/cel/net.proto', 'net', ['IP', 'CIDR']), () => undefined);
const optionalFile = createFileRegistry(file('outrigger/cel/optional.proto', '', ['optional_type']), () => undefined);

/** The registry the evaluator needs to know these messages. */
export const OPAQUE_REGISTRY: Registry = createRegistry(kubernetes, net, optionalFile);

function desc(reg: ReturnType<typeof createFileRegistry>, name: string): DescMessage {
  const d = reg.getMessage(name);
  if (!d) throw new Error(`internal: CEL type ${name} missing`);
  return d;
}

export const URL_DESC = desc(kubernetes, 'kubernetes.URL');
export const QUANTITY_DESC = desc(kubernetes, 'kubernetes.Quantity');
export const FORMAT_DESC = desc(kubernetes, 'kubernetes.NamedFormat');
export const IP_DESC = desc(net, 'net.IP');
export const CIDR_DESC = desc(net, 'net.CIDR');
export const OPTIONAL_DESC = desc(optionalFile, 'optional_type');

export const URL_TYPE: CelType = objectType(URL_DESC);
export const QUANTITY_TYPE: CelType = objectType(QUANTITY_DESC);
export const FORMAT_TYPE: CelType = objectType(FORMAT_DESC);
export const IP_TYPE: CelType = objectType(IP_DESC);
export const CIDR_TYPE: CelType = objectType(CIDR_DESC);
export const OPTIONAL_TYPE: CelType = objectType(OPTIONAL_DESC);

const payloads = new WeakMap<object, unknown>();

/** A library value: `key` decides equality, `payload` is what its functions work on. */
export function makeOpaque(d: DescMessage, key: string, payload: unknown): Message {
  const m = create(d, { key } as never) as Message;
  payloads.set(m, payload);
  return m;
}

/** The payload of a value the evaluator hands back (a ReflectMessage around our message). */
export function payloadOf<T>(v: unknown): T {
  const m = (v as ReflectMessage).message ?? v;
  if (!payloads.has(m as object)) throw new Error('no such overload');
  return payloads.get(m as object) as T;
}

export interface OptionalPayload {
  present: boolean;
  value?: unknown;
}

let optionalSerial = 0;

/** optional.of(1) == optional.of(1): scalars key by value; other values only equal themselves. */
function optionalKey(value: unknown): string {
  switch (typeof value) {
    case 'bigint':
    case 'number':
      return `n:${String(value)}`;
    case 'string':
      return `s:${value}`;
    case 'boolean':
      return `b:${value}`;
    default:
      return value === null ? 'null' : `ref:${++optionalSerial}`;
  }
}

export function optionalOf(value: unknown): Message {
  return makeOpaque(OPTIONAL_DESC, `some:${optionalKey(value)}`, { present: true, value } satisfies OptionalPayload);
}

export function optionalNone(): Message {
  return makeOpaque(OPTIONAL_DESC, 'none', { present: false } satisfies OptionalPayload);
}
