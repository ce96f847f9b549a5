// CLI: run the embedded API server in the foreground.
//   node embedded/main.ts [--state-dir DIR] [--port N] [--host ADDR] [--crd-dir DIR|--no-crds]
// Prints where the kubeconfig is; stops cleanly on SIGINT/SIGTERM; exits 1 if storage fails.
import { parseArgs } from 'node:util';
import { DEFAULT_HOST, DEFAULT_PORT, DEFAULT_STATE_DIR, startEmbeddedServer } from './start.ts';

const USAGE = `usage: node embedded/main.ts [--state-dir DIR] [--port N] [--host ADDR] [--crd-dir DIR | --no-crds] [--quiet]
  --state-dir   where objects, certificates, the token and the kubeconfig live (default ${DEFAULT_STATE_DIR})
  --port        HTTPS port (default ${DEFAULT_PORT}; 0 picks a free one)
  --host        listen address (default ${DEFAULT_HOST}; only loopback unless you mean it)
  --crd-dir     CRD YAML to install at start (default: the repository's crds/)`;

export async function main(argv: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'state-dir': { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'crd-dir': { type: 'string' },
        'no-crds': { type: 'boolean' },
        quiet: { type: 'boolean' },
        // For tests: compact the journal into state.json this often (bytes).
        'compact-after-bytes': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    console.error(`--port must be an integer from 0 to 65535, got ${JSON.stringify(values.port)}`);
    process.exit(2);
  }
  const quiet = !!values.quiet;
  const compactAfterBytes = values['compact-after-bytes'] === undefined ? undefined : Number(values['compact-after-bytes']);
  if (compactAfterBytes !== undefined && !(Number.isInteger(compactAfterBytes) && compactAfterBytes > 0)) {
    console.error('--compact-after-bytes must be a positive integer');
    process.exit(2);
  }
  const server = await startEmbeddedServer({
    ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(values.host ? { host: values.host } : {}),
    ...(compactAfterBytes ? { compactAfterBytes } : {}),
    ...(values['no-crds'] ? { crdDir: false as const } : values['crd-dir'] ? { crdDir: values['crd-dir'] } : {}),
    log: (level, message) => {
      if (!quiet || level !== 'info') console.error(`[embedded-api] ${level}: ${message}`);
    },
    onFatal: () => process.exit(1),
  });
  // One line a supervisor (or test) can wait for.
  console.log(JSON.stringify({ ready: true, url: server.url, kubeconfig: server.kubeconfigPath, pid: process.pid }));
  if (!quiet) console.error(`[embedded-api] use it with: kubectl --kubeconfig ${server.kubeconfigPath} get namespaces`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    if (!quiet) console.error(`[embedded-api] ${signal}: shutting down`);
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

if (import.meta.main) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`[embedded-api] error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
