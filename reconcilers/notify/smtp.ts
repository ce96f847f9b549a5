// Mail through an SMTP server with nodemailer. StartTLS (the default) requires the upgrade: a
// server that does not offer STARTTLS fails instead of sending in clear; TLS is implicit TLS (465);
// None is for a trusted local relay only. The server name is resolved and checked by the outbound
// guard, the connection goes to that address, and the certificate is verified for the name.
// Each message carries the notification's key as its Message-ID, so a retry after an unknown
// outcome is the same message to every mail client.
import { rootCertificates } from 'node:tls';
import nodemailer from 'nodemailer';
import type { Outbound } from '../alert/outbound.ts';
import { connectionFailure, DeliveryError, NotifyReasons } from './errors.ts';
import { subject, textBody, type Notification } from './message.ts';

export interface SmtpSettings {
  address: string;
  port: number;
  security: 'StartTLS' | 'TLS' | 'None';
  from: string;
  to: string[];
  username?: string;
  password?: string;
}

export interface SmtpOptions {
  outbound: Outbound;
  ca?: string[];
  timeoutMs?: number;
}

export async function sendMail(settings: SmtpSettings, n: Notification, what: string, field: string, opts: SmtpOptions): Promise<void> {
  let address: string;
  try {
    const vetted = await opts.outbound.vet(settings.address, field);
    // IPv4 first: `localhost` and dual-stack names often serve SMTP on IPv4 only.
    address = [...vetted.addresses].sort((a, b) => a.family - b.family)[0]!.address;
  } catch (err) {
    throw connectionFailure(err, what, false);
  }
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const transport = nodemailer.createTransport({
    host: address,
    port: settings.port,
    secure: settings.security === 'TLS',
    requireTLS: settings.security === 'StartTLS',
    ignoreTLS: settings.security === 'None',
    ...(settings.username ? { auth: { user: settings.username, pass: settings.password ?? '' } } : {}),
    tls: { servername: settings.address, rejectUnauthorized: true, ...(opts.ca?.length ? { ca: [...rootCertificates, ...opts.ca] } : {}) },
    name: 'outrigger.invalid',
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    disableFileAccess: true,
    disableUrlAccess: true,
    logger: false,
    debug: false,
  });
  try {
    await transport.sendMail({
      from: settings.from,
      to: settings.to,
      subject: subject(n),
      text: textBody(n),
      messageId: `<${n.key}@outrigger.invalid>`,
      headers: { 'X-Outrigger-Notification-Key': n.key },
    });
  } catch (err) {
    throw smtpFailure(err, what);
  } finally {
    transport.close();
  }
}

function smtpFailure(err: unknown, what: string): DeliveryError {
  const e = err as { code?: string; responseCode?: number; response?: string };
  const reply = e.responseCode ? ` (${e.responseCode})` : '';
  switch (e.code) {
    case 'EAUTH':
      return new DeliveryError(NotifyReasons.SmtpAuthFailed, `${what}: the SMTP server refused the user name or password${reply}`, { retryable: true, cause: err });
    case 'ETLS':
      return new DeliveryError(NotifyReasons.ReceiverTlsFailed, `${what}: TLS with the SMTP server failed or STARTTLS was not offered (security StartTLS requires it)`, { retryable: true, cause: err });
    case 'EENVELOPE':
    case 'EMESSAGE':
      return new DeliveryError(NotifyReasons.SmtpRejected, `${what}: the SMTP server refused the message${reply}`, { retryable: true, cause: err });
    default:
      if (/certificate|self.signed|SSL|TLS|handshake/i.test(String((err as Error).message))) {
        return new DeliveryError(NotifyReasons.ReceiverTlsFailed, `${what}: TLS with the SMTP server failed`, { retryable: true, cause: err });
      }
      return connectionFailure(err, what, e.code === 'ETIMEDOUT');
  }
}
