// Public surface of the embedded API server.
export { startEmbeddedServer, DEFAULT_STATE_DIR, DEFAULT_PORT, DEFAULT_HOST } from './start.ts';
export type { EmbeddedServer, EmbeddedServerOptions } from './start.ts';
export { createApiHandler } from './server.ts';
export { StateCorruptedError, StateLockedError, StorageFailedError } from './storage/errors.ts';
