// Counters of what the SSH layer did, so tests and benchmarks can assert "one connection per host"
// and count commands, instead of guessing from timings.
export interface SshCounters {
  /** Attempts to open a connection (successful or not). */
  connectAttempts: number;
  /** Connections that completed the handshake and authentication. */
  connectionsOpened: number;
  commandsRun: number;
  sftpOperations: number;
  filesWritten: number;
  bytesWritten: number;
  forwardsOpened: number;
}

export function newCounters(): SshCounters {
  return { connectAttempts: 0, connectionsOpened: 0, commandsRun: 0, sftpOperations: 0, filesWritten: 0, bytesWritten: 0, forwardsOpened: 0 };
}

export function addCounters(into: SshCounters, from: SshCounters): void {
  for (const k of Object.keys(into) as Array<keyof SshCounters>) into[k] += from[k];
}
