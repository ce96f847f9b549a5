// The Proxmox layer's errors: one class per way a call can end badly, each with a stable code from
// the catalog below and a message that says what to fix. Messages carry the method, the path
// template's concrete path, the HTTP status and PVE's own message and per-field errors, never a
// header, a token, a ticket or a password (the client scrubs every secret it knows from PVE's text).
import { OutriggerError } from '../../controller/errors.ts';
import { defineReasons } from '../../controller/reasons.ts';
import { ErrorCodes } from '../common/reasons.ts';

/** Reasons of the Proxmox layer, with their meanings in the catalog (docs/reasons.md). */
export const ProxmoxReasons = defineReasons('proxmox', {
  ProxmoxApiError: 'PVE answered with an error status; the message carries its words and per-field errors',
  ProxmoxUnauthorized: '401: the token or ticket was refused.',
  ProxmoxForbidden: '403: the token lacks a privilege (named in the message when PVE names it).',
  ProxmoxOutcomeUnknown: 'A mutating request was sent but no answer came: observe before trying again.',
  ProxmoxTlsVerifyFailed: 'The API\'s certificate did not verify against tls.caBundle or the system roots.',
  ProxmoxBadResponse: 'The answer was not PVE\'s JSON, or lacked a field the client reads.',
  ProxmoxTaskFailed: 'A worker task ended with an error (`TASK ERROR: ...`).',
  ProxmoxTaskTimeout: 'A worker task did not end within the time allowed; it may still be running.',
  TemplateNotFound: 'The template named does not exist, or is a VM and not a template.',
  StorageNotOnNode: 'The node has no such storage (or it is disabled there, or holds no VM images).',
  BridgeNotOnNode: 'The node has no such bridge.',
  VmidRangeExhausted: 'Every VMID of vmidRange is taken.',
  VmLocked: 'The VM holds a lock (backup, snapshot, migrate, ...) that Outrigger waits out.',
  NoQuorum: 'The cluster lost quorum: /etc/pve is read-only until it returns.',
  CloneFailed: 'The clone task failed; what it made was removed.',
  NoAddress: 'The guest agent reported no usable address in the time allowed.',
  NotManaged: 'A VM without Outrigger\'s tag or outside its vmidRange: never touched.',
});

/** Codes of the Proxmox layer, next to the shared catalog's. */
export const ProxmoxErrorCodes = { ...ErrorCodes, ...ProxmoxReasons } as const;

export interface FieldErrors { [field: string]: string }

export interface ApiErrorDetails {
  method: string;
  path: string;
  status: number;
  /** PVE's message, first line first, trailing newline removed. */
  pveMessage: string;
  fieldErrors?: FieldErrors;
}

function describeFields(fields: FieldErrors | undefined): string {
  if (!fields || Object.keys(fields).length === 0) return '';
  return ' (' + Object.entries(fields).map(([k, v]) => `${k}: ${v.trim()}`).join('; ') + ')';
}

/** PVE answered with an error status. */
export class ProxmoxApiError extends OutriggerError {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly pveMessage: string;
  readonly fieldErrors: FieldErrors;

  constructor(details: ApiErrorDetails, code: string = ProxmoxErrorCodes.ProxmoxApiError, hint = '') {
    super(
      code,
      `Proxmox API ${details.method} ${details.path}: HTTP ${details.status}: ${details.pveMessage || '(no message)'}` +
        describeFields(details.fieldErrors) + (hint ? `; ${hint}` : ''),
      { field: details.fieldErrors ? Object.keys(details.fieldErrors)[0] : undefined },
    );
    this.name = 'ProxmoxApiError';
    this.method = details.method;
    this.path = details.path;
    this.status = details.status;
    this.pveMessage = details.pveMessage;
    this.fieldErrors = details.fieldErrors ?? {};
  }
}

export const TOKEN_REFUSED_HINT = 'check tokenId and the token secret in tokenSecretRef (the token may be revoked or expired)';
export const LOGIN_REFUSED_HINT = 'check the user name and password (the user may be disabled or expired)';

export class ProxmoxUnauthorizedError extends ProxmoxApiError {
  constructor(details: ApiErrorDetails, hint = TOKEN_REFUSED_HINT) {
    super(details, ProxmoxErrorCodes.ProxmoxUnauthorized, hint);
    this.name = 'ProxmoxUnauthorizedError';
  }
}

export class ProxmoxForbiddenError extends ProxmoxApiError {
  /** The ACL path and privilege PVE named, as in "Permission check failed (/vms/105, VM.Allocate)". */
  readonly aclPath?: string;
  readonly privilege?: string;
  constructor(details: ApiErrorDetails) {
    const named = /Permission check failed \(([^,)]*), ([^)]+)\)/.exec(details.pveMessage);
    super(details, ProxmoxErrorCodes.ProxmoxForbidden, named
      ? `grant the token ${named[2]} on ${named[1] || '/'} (or a parent path), with privilege separation in mind`
      : 'grant the token the privileges the provider needs');
    this.name = 'ProxmoxForbiddenError';
    this.aclPath = named?.[1];
    this.privilege = named?.[2];
  }
}

/** Nothing reached PVE: connection refused, name not resolved, TLS refused. Safe to send again. */
export class ProxmoxUnreachableError extends OutriggerError {
  readonly endpoint: string;
  constructor(endpoint: string, reason: string, cause: unknown, code: string = ProxmoxErrorCodes.Unreachable) {
    super(code, `Proxmox API ${endpoint} is unreachable: ${reason}`, { cause });
    this.name = 'ProxmoxUnreachableError';
    this.endpoint = endpoint;
  }
}

/** A mutating request went out and no answer came back: it may or may not have taken effect. */
export class ProxmoxOutcomeUnknownError extends OutriggerError {
  readonly method: string;
  readonly path: string;
  constructor(method: string, path: string, reason: string, cause: unknown) {
    super(ProxmoxErrorCodes.ProxmoxOutcomeUnknown,
      `Proxmox API ${method} ${path}: ${reason}; it may have taken effect, so it is not sent again before the result is observed`,
      { cause });
    this.name = 'ProxmoxOutcomeUnknownError';
    this.method = method;
    this.path = path;
  }
}

export class ProxmoxBadResponseError extends OutriggerError {
  constructor(method: string, path: string, reason: string, cause?: unknown) {
    super(ProxmoxErrorCodes.ProxmoxBadResponse, `Proxmox API ${method} ${path}: unexpected answer: ${reason}`, { cause });
    this.name = 'ProxmoxBadResponseError';
  }
}

export class ProxmoxTaskError extends OutriggerError {
  readonly upid: string;
  readonly exitStatus: string;
  readonly log: string[];
  constructor(upid: string, what: string, exitStatus: string, log: string[]) {
    super(ProxmoxErrorCodes.ProxmoxTaskFailed, `Proxmox task ${what} failed: ${exitStatus}`);
    this.name = 'ProxmoxTaskError';
    this.upid = upid;
    this.exitStatus = exitStatus;
    this.log = log;
  }
}

export class ProxmoxTaskTimeoutError extends OutriggerError {
  readonly upid: string;
  constructor(upid: string, what: string, waitedMs: number) {
    super(ProxmoxErrorCodes.ProxmoxTaskTimeout, `Proxmox task ${what} still running after ${Math.round(waitedMs / 1000)} s`);
    this.name = 'ProxmoxTaskTimeoutError';
    this.upid = upid;
  }
}

// ---- reading PVE's messages -------------------------------------------------------------------
// PVE reports most refusals as HTTP 500 with a sentence; these are the sentences callers act on.

function messageOf(err: unknown): string | undefined {
  if (err instanceof ProxmoxApiError) return err.pveMessage;
  if (err instanceof ProxmoxTaskError) return err.exitStatus;
  return undefined;
}

function matches(err: unknown, pattern: RegExp): boolean {
  const message = messageOf(err);
  return message !== undefined && pattern.test(message);
}

/** The guest is gone: "Configuration file 'nodes/pve1/qemu-server/105.conf' does not exist". */
export const isVmGone = (err: unknown): boolean =>
  matches(err, /Configuration file '[^']*qemu-server\/\d+\.conf' does not exist|unable to find configuration file for (VM|qemu) \d+/i);

/** The VMID is taken: "VM 105 already exists on node" / "unable to create VM 105: config file already exists". */
export const isVmidTaken = (err: unknown): boolean => matches(err, /already exists/i);

export const isAlreadyRunning = (err: unknown): boolean => matches(err, /already running/i);

export const isNotRunning = (err: unknown): boolean => matches(err, /\bnot running\b/i) && !isAgentNotRunning(err);

/** The guest agent does not answer yet (while the guest boots) or is not configured. */
export const isAgentNotRunning = (err: unknown): boolean =>
  matches(err, /QEMU guest agent is not running|qmp command 'guest-[a-z-]+' failed - got timeout/i);

export const isAgentNotConfigured = (err: unknown): boolean => matches(err, /No QEMU guest agent configured/i);

/** "VM is locked (backup)": the lock's name, or undefined. */
export function lockedBy(err: unknown): string | undefined {
  const message = messageOf(err);
  return message ? /VM is locked \(([^)]+)\)/.exec(message)?.[1] : undefined;
}

export const isNoQuorum = (err: unknown): boolean => matches(err, /no quorum/i);

/**
 * Refusals that mean "nothing was done, try again shortly": pvedaemon could not start a worker, or
 * a config file lock stayed taken for the handler's wait. Safe to send again, POSTs included.
 */
export const isTransientRefusal = (err: unknown): boolean =>
  err instanceof ProxmoxApiError && err.status >= 500 && err.status < 600 &&
  /got no worker upid|unable to fork worker|can't lock file '[^']*' - got timeout/i.test(err.pveMessage);
