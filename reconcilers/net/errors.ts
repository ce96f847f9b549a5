// The guard's error codes, each with its meaning (this layer's part of the error catalog), and the
// typed errors carrying them. Messages name the field, the host name and the address class; never a
// URL's path, query or user info, which may hold credentials.
import { OutriggerError } from '../../controller/errors.ts';
import { defineReasons } from '../../controller/reasons.ts';
import { ADDRESS_CLASS_DESCRIPTIONS, type AddressClass } from './address.ts';

/** The guard's codes, with their meanings, in the reason catalog (docs/reasons.md). */
export const NetErrorCodes = defineReasons('net', {
  ForbiddenAddress: 'A host name or address from the object is, or resolves to, an address class Outrigger does not connect to (link-local, cloud metadata, unspecified, ...); nothing was sent',
  NameNotResolved: 'A host name from the object has no A or AAAA record (or the DNS server did not answer); nothing was sent',
});

export type NetErrorCode = (typeof NetErrorCodes)[keyof typeof NetErrorCodes];

export class ForbiddenAddressError extends OutriggerError {
  /** The name or literal as the user wrote it. */
  readonly host: string;
  /** The refused address (canonical text). */
  readonly address: string;
  readonly addressClass: AddressClass;

  constructor(opts: { field: string; host: string; address: string; addressClass: AddressClass; embeddedIPv4?: string; policy: string; hint: string; resolved: boolean; consequence?: string }) {
    const shown = opts.embeddedIPv4 ? `${opts.address} (which carries ${opts.embeddedIPv4})` : opts.address;
    const what = opts.resolved ? `"${opts.host}" resolves to ${shown},` : `${shown} is`;
    const message = `${opts.field}: ${what} ${ADDRESS_CLASS_DESCRIPTIONS[opts.addressClass]}, which ${opts.policy} may not reach (${opts.hint}); ${opts.consequence ?? 'nothing was sent'}`;
    super(NetErrorCodes.ForbiddenAddress, message, { field: opts.field });
    this.name = 'ForbiddenAddressError';
    this.host = opts.host;
    this.address = opts.address;
    this.addressClass = opts.addressClass;
  }
}

export class NameNotResolvedError extends OutriggerError {
  readonly host: string;

  constructor(opts: { field: string; host: string; detail: string; cause?: unknown; consequence?: string }) {
    super(NetErrorCodes.NameNotResolved, `${opts.field}: "${opts.host}" does not resolve (${opts.detail}); ${opts.consequence ?? 'nothing was sent'}`, { field: opts.field, cause: opts.cause });
    this.name = 'NameNotResolvedError';
    this.host = opts.host;
  }
}
