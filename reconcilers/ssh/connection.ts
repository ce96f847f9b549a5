// One SSH connection to one host, shared by every caller: commands and file transfers are channels
// multiplexed over it. It connects on first use, verifies the pinned host key before anything else
// (our key is never offered to a host that fails), sends keepalives, and after a failure refuses
// new attempts until a backoff delay has passed, so a dead host is not hammered.
import ssh2, { Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { OutriggerError } from '../../controller/errors.ts';
import { defineReasons } from '../../controller/reasons.ts';
import { ErrorCodes } from '../common/reasons.ts';
import { backoffDelay, type BackoffOptions } from '../../controller/backoff.ts';
import { clockTimeout, type Clock } from '../../controller/clock.ts';
import { commandLine } from './command.ts';
import { deadline, raceDeadline, type Deadline, type OperationOptions } from './deadline.ts';
import { fingerprintOf, hostKeyAlgorithms, parseHostKey, type PinnedHostKey } from './hostkey.ts';
import { SftpFiles } from './sftp.ts';
import { Semaphore } from './semaphore.ts';
import { newCounters, type SshCounters } from './counters.ts';

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  /** OpenSSH or PEM private key, from a Secret. Never logged, never in an error. */
  privateKey: string | Buffer;
  passphrase?: string;
  /** The pinned host public key line ("ssh-ed25519 AAAA..."). */
  hostKey: string;
  /**
   * Whose connection this is (a Host's uid): the pool keeps one per owner, so two Host objects for
   * the same machine with different keys do not close each other's. Without it: one per user@host:port.
   */
  owner?: string;
}

export interface ConnectionSettings {
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  backoff: BackoffOptions;
  /** Concurrent command channels; OpenSSH allows 10 sessions per connection by default (SFTP uses one). */
  maxChannels: number;
  defaultTimeoutMs: number;
  /** Bytes of stdout/stderr kept per command; more is an error rather than unbounded memory. */
  maxOutputBytes: number;
  clock: Clock;
}

export const SshConnectionErrorCodes = {
  Unreachable: ErrorCodes.Unreachable,
  ...defineReasons('ssh', {
    HostKeyMismatch: 'The SSH server presented a host key other than the pinned one: Outrigger refuses to connect',
    InvalidPrivateKey: { reason: 'SshInvalidPrivateKey', meaning: 'The private key in the Secret cannot be parsed (or its passphrase is wrong)' },
    AuthenticationFailed: { reason: 'SshAuthenticationFailed', meaning: "The SSH server rejected the private key: add its public key to the user's authorized_keys" },
    ConnectionLost: { reason: 'SshConnectionLost', meaning: 'The SSH connection ended while in use; retried' },
    OutputTooLarge: { reason: 'SshOutputTooLarge', meaning: 'A remote command printed more than Outrigger keeps' },
    CommandFailed: { reason: 'SshCommandFailed', meaning: 'A remote command exited non-zero' },
  }),
} as const;

export interface ExecOptions extends OperationOptions {
  stdin?: string | Buffer;
}

export interface ExecResult {
  /** Exit status, or null when the command died by a signal. */
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
}

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'closed';

export interface ConnectionStatus {
  state: ConnectionState;
  /** Consecutive failed connection attempts. */
  failures: number;
  lastError?: { code: string; message: string };
  /** When a new attempt is allowed again (epoch ms), while in backoff. */
  retryAt?: number;
}

export class SshConnection {
  readonly address: string;
  readonly files: SftpFiles;
  private readonly target: SshTarget;
  private readonly pinned: PinnedHostKey;
  private readonly settings: ConnectionSettings;
  /** What this connection did; the pool's totals are incremented alongside. */
  readonly counters: SshCounters = newCounters();
  private readonly totals: SshCounters;
  private readonly channels: Semaphore;
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  private sftpSession: Promise<SFTPWrapper> | undefined;
  private failures = 0;
  private retryAt = 0;
  private lastError: OutriggerError | undefined;
  private closed = false;

  constructor(target: SshTarget, settings: ConnectionSettings, totals: SshCounters) {
    this.target = target;
    this.pinned = parseHostKey(target.hostKey);
    this.settings = settings;
    this.totals = totals;
    this.address = `${target.username}@${target.host}:${target.port}`;
    this.channels = new Semaphore(settings.maxChannels);
    this.files = new SftpFiles({
      address: this.address,
      count: (what, n) => this.count(what, n),
      defaultTimeoutMs: settings.defaultTimeoutMs,
      session: (d) => this.sftp(d),
    });
  }

  status(): ConnectionStatus {
    const base = { failures: this.failures, ...(this.lastError ? { lastError: { code: String(this.lastError.code), message: this.lastError.message } } : {}) };
    if (this.closed) return { state: 'closed', ...base };
    if (this.client) return { state: 'connected', ...base };
    if (this.connecting) return { state: 'connecting', ...base };
    if (this.lastError && this.settings.clock.now() < this.retryAt) return { state: 'backoff', retryAt: this.retryAt, ...base };
    return { state: 'idle', ...base };
  }

  /** Connects now (or reuses the live connection). Useful to surface a host key mismatch early. */
  async connect(opts: OperationOptions = {}): Promise<void> {
    const d = deadline(opts, this.settings.defaultTimeoutMs, this.settings.clock);
    await this.ready(d);
  }

  /** Runs a fixed program with arguments (each quoted; never a shell string) and collects its output. */
  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const line = commandLine(argv);
    const what = `command ${argv[0]} on ${this.address}`;
    const d = deadline(opts, this.settings.defaultTimeoutMs, this.settings.clock);
    const client = await this.ready(d);
    const release = await this.channels.acquire(d.signal).catch(() => { throw d.error(`waiting for a channel for ${what}`); });
    try {
      this.count('commandsRun');
      // A refused channel means the command never started, so trying again is safe. OpenSSH frees a
      // session slot a moment after the channel closes, so a busy connection sees a few refusals.
      for (let attempt = 0; ; attempt++) {
        let started = false;
        let channel: ClientChannel | undefined;
        // Output listeners must be attached inside the callback: ssh2 may parse the command's exit
        // in the same tick as the exec reply, before any promise continuation runs.
        const finished = new Promise<ExecResult>((resolve, reject) => {
          client.exec(line, (err, stream) => {
            if (err) return reject(this.channelError(err, what));
            started = true;
            channel = stream;
            this.collect(stream, what, opts.stdin).then(resolve, reject);
          });
        });
        try {
          return await raceDeadline(d, what, finished, () => {
            try { channel?.signal('KILL'); } catch { /* not every server honours signals */ }
            channel?.close();
          });
        } catch (err) {
          if (started || d.signal.aborted || attempt >= 8 || this.client !== client) throw err;
          await raceDeadline(d, what, new Promise((r) => setTimeout(r, 5 * 2 ** attempt)));
        }
      }
    } finally {
      release();
    }
  }

  /** Like exec, but a non-zero exit is an error carrying the command's stderr. */
  async run(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const result = await this.exec(argv, opts);
    if (result.code !== 0) {
      const detail = (result.stderr || result.stdout).trim().slice(-2000);
      throw new OutriggerError(SshConnectionErrorCodes.CommandFailed,
        `${argv[0]} on ${this.address} exited with ${result.code ?? `signal ${result.signal}`}${detail ? `: ${detail}` : ''}`);
    }
    return result;
  }

  /** Opens a TCP stream from the host to host:port (e.g. to ask the host's nginx on loopback). */
  async forwardOut(host: string, port: number, opts: OperationOptions = {}): Promise<ClientChannel> {
    const what = `tunnel to ${host}:${port} via ${this.address}`;
    const d = deadline(opts, this.settings.defaultTimeoutMs, this.settings.clock);
    const client = await this.ready(d);
    const opened = new Promise<ClientChannel>((resolve, reject) => {
      client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => (err ? reject(this.channelError(err, what)) : resolve(stream)));
    });
    const channel = await raceDeadline(d, what, opened);
    this.count('forwardsOpened');
    return channel;
  }

  /** Opens a stream to a unix socket on the host (e.g. its Docker engine), over this connection. */
  async openUnixStream(socketPath: string, opts: OperationOptions = {}): Promise<ClientChannel> {
    const what = `stream to ${socketPath} via ${this.address}`;
    const d = deadline(opts, this.settings.defaultTimeoutMs, this.settings.clock);
    const client = await this.ready(d);
    const opened = new Promise<ClientChannel>((resolve, reject) => {
      client.openssh_forwardOutStreamLocal(socketPath, (err, stream) => (err ? reject(this.channelError(err, what)) : resolve(stream)));
    });
    const channel = await raceDeadline(d, what, opened);
    this.count('forwardsOpened');
    return channel;
  }

  /** Adds to this connection's and the pool's counters (helpers built on exec count their files here). */
  count(what: keyof SshCounters, n = 1): void {
    this.counters[what] += n;
    this.totals[what] += n;
  }

  close(): void {
    this.closed = true;
    this.client?.end();
    this.client = undefined;
    this.sftpSession = undefined;
  }

  // ---- connecting --------------------------------------------------------------------------------

  private async ready(d: Deadline): Promise<Client> {
    if (this.closed) throw new OutriggerError(SshConnectionErrorCodes.ConnectionLost, `the connection to ${this.address} was closed`);
    if (this.client) return this.client;
    if (!this.connecting) {
      const now = this.settings.clock.now();
      if (this.lastError && now < this.retryAt) {
        // The same words each time, so status stays put and repeated events fold into one series;
        // when the next attempt is due travels beside the message.
        throw Object.assign(new OutriggerError(this.lastError.code, this.lastError.message, { cause: this.lastError }), { retryAt: this.retryAt });
      }
      this.connecting = this.open().then(
        (client) => {
          this.connecting = undefined;
          this.failures = 0;
          this.lastError = undefined;
          this.client = client;
          return client;
        },
        (err: OutriggerError) => {
          this.connecting = undefined;
          this.failures++;
          this.lastError = err;
          this.retryAt = this.settings.clock.now() + backoffDelay(this.failures - 1, this.settings.backoff);
          throw err;
        },
      );
    }
    // A caller giving up stops waiting; the attempt itself is shared and finishes on its own timeout.
    return raceDeadline(d, `connecting to ${this.address}`, this.connecting);
  }

  private open(): Promise<Client> {
    this.count('connectAttempts');
    // ssh2 throws synchronously (and quotes the key) for a key it cannot parse: check it first,
    // with a message that names the problem and never a byte of the key.
    const parsed = ssh2.utils.parseKey(this.target.privateKey, this.target.passphrase);
    if (parsed instanceof Error) {
      const encrypted = /encrypted|passphrase/i.test(parsed.message);
      return Promise.reject(new OutriggerError(SshConnectionErrorCodes.InvalidPrivateKey, encrypted
        ? `the private key for ${this.address} is encrypted and the passphrase is missing or wrong: fix spec.ssh.passphraseSecretRef`
        : `the private key for ${this.address} cannot be parsed: put an unencrypted OpenSSH or PEM private key (RSA, ECDSA or Ed25519) in the Secret spec.ssh.privateKeySecretRef names`));
    }
    const client = new Client();
    let presented: Buffer | undefined;
    const config: ConnectConfig = {
      host: this.target.host,
      port: this.target.port,
      username: this.target.username,
      privateKey: this.target.privateKey,
      ...(this.target.passphrase ? { passphrase: this.target.passphrase } : {}),
      readyTimeout: this.settings.connectTimeoutMs,
      keepaliveInterval: this.settings.keepaliveIntervalMs,
      keepaliveCountMax: this.settings.keepaliveCountMax,
      algorithms: { serverHostKey: hostKeyAlgorithms(this.pinned) as never },
      // Runs before authentication: a host that is not the pinned one never sees our key.
      hostVerifier: (key: Buffer) => {
        presented = key;
        return key.equals(this.pinned.blob);
      },
      tryKeyboard: false,
      agent: undefined,
    };
    return new Promise<Client>((resolve, reject) => {
      let settled = false;
      client.once('ready', () => {
        settled = true;
        this.count('connectionsOpened');
        resolve(client);
      });
      client.on('error', (err: Error & { level?: string; code?: string }) => {
        if (settled) return; // errors after ready end in 'close', handled below
        settled = true;
        client.end();
        reject(this.connectError(err, presented));
      });
      client.on('close', () => {
        if (this.client === client) {
          this.client = undefined;
          this.sftpSession = undefined;
        }
        if (!settled) {
          settled = true;
          reject(new OutriggerError(SshConnectionErrorCodes.Unreachable, `${this.address} closed the connection during the handshake`));
        }
      });
      try {
        client.connect(config);
      } catch {
        settled = true;
        reject(new OutriggerError(SshConnectionErrorCodes.InvalidPrivateKey, `SSH to ${this.address} could not start: the connection settings (key, passphrase) were refused by the SSH library`));
        return;
      }
      // Small request/response round trips (SFTP, channel opens) stall ~40 ms each under Nagle.
      client.setNoDelay(true);
    });
  }

  private connectError(err: Error & { level?: string; code?: string }, presented: Buffer | undefined): OutriggerError {
    if (presented && !presented.equals(this.pinned.blob)) {
      return new OutriggerError(SshConnectionErrorCodes.HostKeyMismatch,
        `host key mismatch for ${this.address}: the server presented ${this.pinned.type} ${fingerprintOf(presented)} but the Host pins ${this.pinned.fingerprint}; ` +
        'refusing to connect. If the host was really reinstalled, put its new public key (e.g. /etc/ssh/ssh_host_ed25519_key.pub) in the Host\'s host key');
    }
    if (err.level === 'client-authentication') {
      return new OutriggerError(SshConnectionErrorCodes.AuthenticationFailed,
        `${this.address} rejected the private key; add the matching public key to the user's authorized_keys or fix the key Secret`);
    }
    if (err.level === 'client-timeout') {
      return new OutriggerError(SshConnectionErrorCodes.Unreachable, `no SSH handshake with ${this.address} within ${this.settings.connectTimeoutMs} ms`);
    }
    if (err.code && /^E[A-Z]+$/.test(err.code)) {
      return new OutriggerError(SshConnectionErrorCodes.Unreachable, `cannot reach ${this.address}: ${err.code}`, { cause: err });
    }
    if (/no matching host key/i.test(err.message)) {
      return new OutriggerError(SshConnectionErrorCodes.HostKeyMismatch,
        `${this.address} has no ${this.pinned.type} host key, which is the type the Host pins (${this.pinned.fingerprint}); refusing to connect`);
    }
    return new OutriggerError(SshConnectionErrorCodes.Unreachable, `SSH to ${this.address} failed: ${err.message}`, { cause: err });
  }

  private channelError(err: Error, what: string): OutriggerError {
    return new OutriggerError(SshConnectionErrorCodes.ConnectionLost, `${what}: could not open a channel: ${err.message}`, { cause: err });
  }

  // ---- channels ----------------------------------------------------------------------------------

  private collect(channel: ClientChannel, what: string, stdin: string | Buffer | undefined): Promise<ExecResult> {
    const max = this.settings.maxOutputBytes;
    return new Promise<ExecResult>((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let size = 0;
      let code: number | null | undefined;
      let signal: string | undefined;
      const take = (into: Buffer[]) => (chunk: Buffer) => {
        size += chunk.length;
        if (size > max) {
          channel.close();
          reject(new OutriggerError(SshConnectionErrorCodes.OutputTooLarge, `${what} printed more than ${max} bytes`));
          return;
        }
        into.push(chunk);
      };
      channel.on('data', take(out));
      channel.stderr.on('data', take(err));
      channel.on('exit', (c: number | null, s?: string) => {
        code = c;
        signal = s;
      });
      channel.on('close', () => {
        if (code === undefined) {
          reject(new OutriggerError(SshConnectionErrorCodes.ConnectionLost, `${what}: the connection ended before the command finished`));
          return;
        }
        resolve({
          code: typeof code === 'number' ? code : null,
          ...(signal ? { signal } : {}),
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        });
      });
      channel.end(stdin);
    });
  }

  private async sftp(d: Deadline): Promise<SFTPWrapper> {
    const client = await this.ready(d);
    if (!this.sftpSession) {
      const session = this.openSftp(client);
      session.catch(() => {
        if (this.sftpSession === session) this.sftpSession = undefined;
      });
      this.sftpSession = session;
    }
    return raceDeadline(d, `opening SFTP on ${this.address}`, this.sftpSession);
  }

  /** The SFTP session holds one channel slot for as long as it is open. */
  private async openSftp(client: Client): Promise<SFTPWrapper> {
    const release = await this.channels.acquire(clockTimeout(this.settings.clock, this.settings.defaultTimeoutMs));
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
            client.sftp((err, s) => (err ? reject(this.channelError(err, `SFTP on ${this.address}`)) : resolve(s)));
          });
          sftp.on('close', () => {
            release();
            void this.sftpClosed(sftp);
          });
          return sftp;
        } catch (err) {
          // As for commands: a refused channel is retried while OpenSSH frees session slots.
          if (attempt >= 8 || this.client !== client) throw err;
          await new Promise((r) => setTimeout(r, 5 * 2 ** attempt));
        }
      }
    } catch (err) {
      release();
      throw err;
    }
  }

  private async sftpClosed(sftp: SFTPWrapper): Promise<void> {
    const current = await this.sftpSession?.catch(() => undefined);
    if (current === sftp) this.sftpSession = undefined;
  }
}
