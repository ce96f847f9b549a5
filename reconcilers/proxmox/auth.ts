// Authentication to PVE: an API token (one header, no CSRF), or a login ticket with its CSRF token
// where a token is not possible. Tickets live 2 hours; one is renewed (with the ticket itself as
// the password, as PVE allows) once it is older than RENEW_AFTER_MS, and a refused ticket is
// replaced by a fresh login. Every secret is reported to the client so it can scrub messages.
import type { Clock } from '../../controller/clock.ts';

export type Credentials =
  | { kind: 'token'; tokenId: string; secret: string }
  | { kind: 'ticket'; username: string; password: string };

/** PVE tickets are valid for 2 h; renewing at 1 h 30 leaves room for clock skew and slow clusters. */
export const TICKET_LIFETIME_MS = 2 * 3600_000;
export const RENEW_AFTER_MS = 90 * 60_000;

export interface Ticket { ticket: string; csrf: string }

/** Performs POST /access/ticket (no auth headers) and returns what PVE issued. */
export type LoginCall = (username: string, password: string, signal: AbortSignal) => Promise<Ticket>;

export interface Authenticator {
  headers(method: string, signal: AbortSignal): Promise<Record<string, string>>;
  /** A 401 came back: true if trying again with fresh credentials may help. */
  refused(): boolean;
  secrets(): string[];
}

export class TokenAuthenticator implements Authenticator {
  private readonly header: string;
  private readonly secret: string;
  constructor(tokenId: string, secret: string) {
    this.header = `PVEAPIToken=${tokenId}=${secret}`;
    this.secret = secret;
  }
  async headers(): Promise<Record<string, string>> {
    return { authorization: this.header };
  }
  refused(): boolean {
    return false;
  }
  secrets(): string[] {
    return [this.secret];
  }
}

export class TicketAuthenticator implements Authenticator {
  private current?: { ticket: Ticket; issuedAt: number };
  private pending?: Promise<Ticket>;
  private readonly username: string;
  private readonly password: string;
  private readonly clock: Clock;
  private readonly login: LoginCall;
  /** Logins and renewals done, for tests and metrics. */
  logins = 0;

  constructor(opts: { username: string; password: string; clock: Clock; login: LoginCall }) {
    this.username = opts.username;
    this.password = opts.password;
    this.clock = opts.clock;
    this.login = opts.login;
  }

  async headers(method: string, signal: AbortSignal): Promise<Record<string, string>> {
    const ticket = await this.valid(signal);
    // The ticket's characters are all cookie-safe; PVE reads the value as sent.
    const headers: Record<string, string> = { cookie: `PVEAuthCookie=${ticket.ticket}` };
    if (method !== 'GET' && method !== 'HEAD') headers.csrfpreventiontoken = ticket.csrf;
    return headers;
  }

  refused(): boolean {
    this.current = undefined;
    return true;
  }

  secrets(): string[] {
    return this.current ? [this.password, this.current.ticket.ticket, this.current.ticket.csrf] : [this.password];
  }

  private async valid(signal: AbortSignal): Promise<Ticket> {
    const now = this.clock.now();
    if (this.current && now - this.current.issuedAt < RENEW_AFTER_MS) return this.current.ticket;
    // One login at a time: concurrent requests wait for the same one.
    this.pending ??= this.obtain(signal).finally(() => { this.pending = undefined; });
    return this.pending;
  }

  private async obtain(signal: AbortSignal): Promise<Ticket> {
    const previous = this.current;
    const issuedAt = this.clock.now();
    let ticket: Ticket | undefined;
    if (previous && issuedAt - previous.issuedAt < TICKET_LIFETIME_MS) {
      // Renewal: the unexpired ticket stands in for the password.
      ticket = await this.login(this.username, previous.ticket.ticket, signal).catch(() => undefined);
    }
    ticket ??= await this.login(this.username, this.password, signal);
    this.logins++;
    this.current = { ticket, issuedAt };
    return ticket;
  }
}
