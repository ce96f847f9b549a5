// Storage failures a user must see and act on; never papered over by starting empty.

export class StateCorruptedError extends Error {
  readonly file: string;
  constructor(file: string, detail: string) {
    super(
      `embedded API state file ${file} is corrupted: ${detail}. ` +
        'The server refuses to start rather than lose data: restore the file from a backup, ' +
        'or move the state directory aside to start empty.',
    );
    this.name = 'StateCorruptedError';
    this.file = file;
  }
}

export class StateLockedError extends Error {
  constructor(dir: string, pid: number) {
    super(`embedded API state directory ${dir} is in use by process ${pid}; stop it first (or pick another --state-dir)`);
    this.name = 'StateLockedError';
  }
}

/** The journal could not be written: the store stops accepting writes (fail-stop, like etcd). */
export class StorageFailedError extends Error {
  constructor(cause: unknown) {
    super(`embedded API storage failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'StorageFailedError';
  }
}
