// Public surface of the SSH provider.
export { SshPool, type SshPoolOptions } from './pool.ts';
export { SshConnection, SshConnectionErrorCodes, type SshTarget, type ExecOptions, type ExecResult, type ConnectionStatus } from './connection.ts';
export { SftpFiles, SftpErrorCodes, assertRemotePath, type FileStat, type WriteOptions } from './sftp.ts';
export { writeNewFiles, type NewFile } from './bulk-write.ts';
export { SshErrorCodes, type OperationOptions } from './deadline.ts';
export { parseHostKey, fingerprintOf, type PinnedHostKey } from './hostkey.ts';
export { commandChunks, commandLine, shellQuote, validateArgv } from './command.ts';
export type { SshCounters } from './counters.ts';
