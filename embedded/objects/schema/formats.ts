// String formats kube-apiserver checks in custom resources; unknown formats are accepted, as there.
import { isIP } from 'node:net';

const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const HOSTNAME = /^([a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)(\.([a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?))*\.?$/;
const EMAIL = /^[^@\s]+@[^@\s]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DURATION = /^(-?\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d|w))+$/;
const MAC = /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/;

export function checkFormat(format: string, value: string): boolean {
  switch (format) {
    case 'date-time':
    case 'datetime':
      return DATE_TIME.test(value) && !Number.isNaN(Date.parse(value.replace(' ', 'T')));
    case 'date':
      return DATE.test(value) && !Number.isNaN(Date.parse(value));
    case 'uuid':
      return UUID.test(value);
    case 'hostname':
      return value.length <= 255 && HOSTNAME.test(value);
    case 'email':
      return EMAIL.test(value);
    case 'ipv4':
      return isIP(value) === 4;
    case 'ipv6':
      return isIP(value) === 6;
    case 'cidr': {
      const [ip, bits, ...rest] = value.split('/');
      const kind = isIP(ip ?? '');
      const n = Number(bits);
      return rest.length === 0 && kind !== 0 && Number.isInteger(n) && n >= 0 && n <= (kind === 4 ? 32 : 128);
    }
    case 'byte':
      return BASE64.test(value);
    case 'duration':
      return DURATION.test(value);
    case 'mac':
      return MAC.test(value);
    case 'uri':
      try {
        new URL(value);
        return true;
      } catch {
        return false;
      }
    default:
      return true;
  }
}
