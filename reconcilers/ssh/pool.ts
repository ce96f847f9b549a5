// The SSH connection pool: one connection per owner (a Host) or else per user@address:port, shared
// by every caller and reused across reconciles. When the owner's address, key Secret or pinned host
// key changes, the old connection is closed and the next use connects with the new settings.
import { createHash } from 'node:crypto';
import { realClock, type Clock } from '../../controller/clock.ts';
import type { BackoffOptions } from '../../controller/backoff.ts';
import { SshConnection, type ConnectionSettings, type ConnectionStatus, type SshTarget } from './connection.ts';
import { newCounters, type SshCounters } from './counters.ts';

export interface SshPoolOptions {
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  backoff?: BackoffOptions;
  maxChannelsPerHost?: number;
  /** Default deadline of one operation (command, file transfer, connect wait). */
  defaultTimeoutMs?: number;
  maxOutputBytes?: number;
  clock?: Clock;
}

interface Entry { credentials: string; connection: SshConnection }

function poolKey(target: Pick<SshTarget, 'username' | 'host' | 'port' | 'owner'>): string {
  return target.owner !== undefined ? `owner:${target.owner}` : `${target.username}@${target.host}:${target.port}`;
}

export class SshPool {
  private readonly settings: ConnectionSettings;
  private readonly entries = new Map<string, Entry>();
  private readonly totals: SshCounters = newCounters();

  constructor(opts: SshPoolOptions = {}) {
    this.settings = {
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      keepaliveIntervalMs: opts.keepaliveIntervalMs ?? 10_000,
      keepaliveCountMax: opts.keepaliveCountMax ?? 3,
      backoff: opts.backoff ?? { initialMs: 500, maxMs: 30_000, jitter: 0.2 },
      maxChannels: opts.maxChannelsPerHost ?? 8,
      defaultTimeoutMs: opts.defaultTimeoutMs ?? 30_000,
      maxOutputBytes: opts.maxOutputBytes ?? 8 * 1024 * 1024,
      clock: opts.clock ?? realClock,
    };
  }

  /** The shared connection for this target (created, not yet connected, on first request). */
  connection(target: SshTarget): SshConnection {
    const key = poolKey(target);
    const credentials = createHash('sha256')
      .update(`${target.username}@${target.host}:${target.port}`).update('\0')
      .update(target.hostKey).update('\0').update(target.privateKey).update('\0').update(target.passphrase ?? '')
      .digest('hex');
    const existing = this.entries.get(key);
    if (existing && existing.credentials === credentials) return existing.connection;
    existing?.connection.close();
    const connection = new SshConnection(target, this.settings, this.totals);
    this.entries.set(key, { credentials, connection });
    return connection;
  }

  /** Closes and forgets the connection to a host (e.g. when its Host object is deleted). */
  release(target: Pick<SshTarget, 'username' | 'host' | 'port' | 'owner'>): void {
    const key = poolKey(target);
    this.entries.get(key)?.connection.close();
    this.entries.delete(key);
  }

  /** Totals across every connection this pool ever made. */
  counters(): Readonly<SshCounters> {
    return { ...this.totals };
  }

  statuses(): Record<string, ConnectionStatus> {
    return Object.fromEntries([...this.entries].map(([k, e]) => [k, e.connection.status()]));
  }

  close(): void {
    for (const e of this.entries.values()) e.connection.close();
    this.entries.clear();
  }
}
