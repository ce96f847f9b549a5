// Kubernetes' format library: `format.dns1123Label().validate(s)` and the other named formats,
// and `format.named(name)`. validate() returns optional.none() for a valid string, else the
// list of what is wrong, in apimachinery's words (the same rules metadata names follow here).
import { celList } from '@bufbuild/cel';
import { dns1035LabelErrors, dns1123LabelErrors, dns1123SubdomainErrors, labelValueErrors, qualifiedNameErrors } from '../../../meta.ts';
import { checkFormat } from '../../formats.ts';
import { FORMAT_DESC, makeOpaque, optionalNone, optionalOf, payloadOf } from '../opaque.ts';
import { FORMAT_T, STRING, list, optional } from '../types.ts';
import { fn, method, type Overload } from './overload.ts';
import { parseRequestURI } from './urls.ts';

interface NamedFormat {
  name: string;
  validate(s: string): string[];
}

/** Generated names may end in '-': kube-apiserver checks them with the dash masked. */
function maskTrailingDash(s: string): string {
  return s.length > 1 && s.endsWith('-') ? `${s.slice(0, -2)}a` : s;
}

function byFormat(format: string, message: string) {
  return (s: string) => (checkFormat(format, s) ? [] : [message]);
}

export const NAMED_FORMATS: Record<string, NamedFormat> = {
  dns1123Label: { name: 'DNS1123Label', validate: dns1123LabelErrors },
  dns1123Subdomain: { name: 'DNS1123Subdomain', validate: dns1123SubdomainErrors },
  dns1035Label: { name: 'DNS1035Label', validate: dns1035LabelErrors },
  qualifiedName: { name: 'QualifiedName', validate: qualifiedNameErrors },
  dns1123LabelPrefix: { name: 'DNS1123LabelPrefix', validate: (s) => dns1123LabelErrors(maskTrailingDash(s)) },
  dns1123SubdomainPrefix: { name: 'DNS1123SubdomainPrefix', validate: (s) => dns1123SubdomainErrors(maskTrailingDash(s)) },
  dns1035LabelPrefix: { name: 'DNS1035LabelPrefix', validate: (s) => dns1035LabelErrors(maskTrailingDash(s)) },
  labelValue: { name: 'LabelValue', validate: labelValueErrors },
  uri: {
    name: 'URI',
    validate: (s) => {
      try {
        parseRequestURI(s);
        return [];
      } catch (err) {
        return [(err as Error).message];
      }
    },
  },
  uuid: { name: 'uuid', validate: byFormat('uuid', 'does not match the UUID format') },
  byte: { name: 'byte', validate: byFormat('byte', 'invalid base64') },
  date: { name: 'date', validate: byFormat('date', 'invalid date') },
  datetime: { name: 'datetime', validate: byFormat('date-time', 'invalid datetime') },
};

function formatValue(f: NamedFormat) {
  return makeOpaque(FORMAT_DESC, f.name, f);
}

function validate(f: unknown, s: string) {
  const errs = payloadOf<NamedFormat>(f).validate(s);
  return errs.length ? optionalOf(celList(errs)) : optionalNone();
}

export const FORMAT_OVERLOADS: Overload[] = [
  ...Object.entries(NAMED_FORMATS).map(([key, f]) => fn(`format.${key}`, `format.${key}`, [], FORMAT_T, (() => formatValue(f)) as never)),
  fn('format-named', 'format.named', [STRING], optional(FORMAT_T), ((name: string) => {
    const f = Object.hasOwn(NAMED_FORMATS, name) ? NAMED_FORMATS[name] : undefined;
    return f ? optionalOf(formatValue(f)) : optionalNone();
  }) as never),
  method('format-validate', 'validate', FORMAT_T, [STRING], optional(list(STRING)), validate as never),
];
