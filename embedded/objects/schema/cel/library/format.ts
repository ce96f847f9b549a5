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
  /** The longest regular expression kube-apiserver assumes for it, which prices validate(). */
  maxRegexSize: number;
}

/** Generated names may end in '-': kube-apiserver checks them with the dash masked. */
function maskTrailingDash(s: string): string {
  return s.length > 1 && s.endsWith('-') ? `${s.slice(0, -2)}a` : s;
}

function byFormat(format: string, message: string) {
  return (s: string) => (checkFormat(format, s) ? [] : [message]);
}

export const NAMED_FORMATS: Record<string, NamedFormat> = {
  dns1123Label: { name: 'DNS1123Label', validate: dns1123LabelErrors, maxRegexSize: 30 },
  dns1123Subdomain: { name: 'DNS1123Subdomain', validate: dns1123SubdomainErrors, maxRegexSize: 60 },
  dns1035Label: { name: 'DNS1035Label', validate: dns1035LabelErrors, maxRegexSize: 30 },
  qualifiedName: { name: 'QualifiedName', validate: qualifiedNameErrors, maxRegexSize: 60 },
  dns1123LabelPrefix: { name: 'DNS1123LabelPrefix', validate: (s) => dns1123LabelErrors(maskTrailingDash(s)), maxRegexSize: 30 },
  dns1123SubdomainPrefix: { name: 'DNS1123SubdomainPrefix', validate: (s) => dns1123SubdomainErrors(maskTrailingDash(s)), maxRegexSize: 60 },
  dns1035LabelPrefix: { name: 'DNS1035LabelPrefix', validate: (s) => dns1035LabelErrors(maskTrailingDash(s)), maxRegexSize: 30 },
  labelValue: { name: 'LabelValue', validate: labelValueErrors, maxRegexSize: 40 },
  uri: {
    name: 'URI',
    // govalidator's URL pattern, which kube-apiserver prices uri with.
    maxRegexSize: 1103,
    validate: (s) => {
      try {
        parseRequestURI(s);
        return [];
      } catch (err) {
        return [(err as Error).message];
      }
    },
  },
  uuid: { name: 'uuid', validate: byFormat('uuid', 'does not match the UUID format'), maxRegexSize: 70 },
  byte: { name: 'byte', validate: byFormat('byte', 'invalid base64'), maxRegexSize: 84 },
  date: { name: 'date', validate: byFormat('date', 'invalid date'), maxRegexSize: 71 },
  datetime: { name: 'datetime', validate: byFormat('date-time', 'invalid datetime'), maxRegexSize: 71 },
};

/** Regular-expression sizes by the format's name, for runtime costs. */
export const NAMED_FORMAT_REGEX_SIZES = new Map(Object.values(NAMED_FORMATS).map((f) => [f.name, f.maxRegexSize]));

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
