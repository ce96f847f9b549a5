#!/usr/bin/env node
// The outrigger command line: `outrigger controller` runs the controller against the cluster in the
// current kubeconfig (or in-cluster config inside a Pod); `outrigger webhook` runs the admission
// webhook server.
import { parseArgs } from 'node:util';
import { runControllerProcess } from '../controller/main.ts';
import { registerReconcilers } from '../reconcilers/index.ts';
import { createOutboundGuard, splitList, type OutboundConfig } from '../reconcilers/net/index.ts';
import { runStandalone } from './standalone.ts';

const usage = `usage: outrigger <command> [flags]

commands:
  start        standalone unless --cluster or --kubeconfig is given: the embedded API (state in
               ./.outrigger) and the controller in one process; prints how to use kubectl with it
               --state-dir DIR            where the embedded API keeps its state (default ./.outrigger)
               --port N                   the embedded API's HTTPS port (default 6443)
               --cluster                  run against the cluster in the current kubeconfig instead
               --kubeconfig PATH          run against the cluster in this kubeconfig instead
               --http-bind-address H:P    /healthz, /readyz and /metrics (default 127.0.0.1:8080)
               --log-level LEVEL          debug, info, warn, error (default info)
               --allow-outbound-cidr CIDR  a network the controller may reach on a user's behalf besides
                                          public addresses, e.g. 10.0.0.0/8 (repeatable; also
                                          $OUTRIGGER_ALLOW_OUTBOUND_CIDRS, comma-separated)
               --dns-server ADDR[:PORT]   DNS server for names from users' objects (repeatable; also
                                          $OUTRIGGER_DNS_SERVERS; default: the system's resolver)
  controller   run the controller against a Kubernetes API
               --kubeconfig PATH          kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)
               --namespace NS             only reconcile objects in NS (default: all)
               --leader-elect             take part in leader election (default: off)
               --leader-election-namespace NS  where the Lease lives (default: $POD_NAMESPACE or default)
               --leader-election-id NAME  the Lease's name (default outrigger-controller)
               --http-bind-address H:P    /healthz, /readyz and /metrics (default 0.0.0.0:8080)
               --log-level LEVEL          debug, info, warn, error (default info)
               --allow-outbound-cidr CIDR  a network the controller may reach on a user's behalf besides
                                          public addresses, e.g. 10.0.0.0/8 (repeatable; also
                                          $OUTRIGGER_ALLOW_OUTBOUND_CIDRS, comma-separated)
               --dns-server ADDR[:PORT]   DNS server for names from users' objects (repeatable; also
                                          $OUTRIGGER_DNS_SERVERS; default: the system's resolver)
  webhook      run the validating and defaulting admission webhook over TLS
               --kubeconfig PATH          kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)
               --bind-address H:P         TLS admission endpoint (default 0.0.0.0:9443)
               --http-bind-address H:P    /healthz, /readyz and /metrics (default 0.0.0.0:8080)
               --cert-mode MODE           self-managed (default: a CA and certificate kept in a Secret,
                                          rotated, caBundle injected) or files (cert-manager's Secret)
               --cert-dir DIR             files: directory holding tls.crt and tls.key
               --namespace NS             self-managed: where the Secret lives (default: $POD_NAMESPACE)
               --cert-secret NAME         self-managed: the Secret's name (default outrigger-webhook-tls)
               --service-name NAME        self-managed: the webhook's Service (its DNS names)
               --tls-san NAME             self-managed: another DNS name or IP address (repeatable)
               --validating-webhook-configuration NAME  keep its caBundle current (repeatable)
               --mutating-webhook-configuration NAME    keep its caBundle current (repeatable)
               --log-level LEVEL          debug, info, warn, error (default info)
  workspaces-from-csv  turn a CSV of users into Workspace manifests for kubectl apply
               --file users.csv --host HOST --image IMAGE [--class NAME] [--namespace NS]
               (outrigger workspaces-from-csv --help for the columns and every flag)

Logs go to stdout: readable lines on a terminal, one JSON object a line otherwise (LOG_FORMAT=json
or LOG_FORMAT=pretty chooses; LOG_LEVEL sets the default level).
`;

const outboundFlags = {
  'allow-outbound-cidr': { type: 'string', multiple: true, default: splitList(process.env.OUTRIGGER_ALLOW_OUTBOUND_CIDRS) },
  'dns-server': { type: 'string', multiple: true, default: splitList(process.env.OUTRIGGER_DNS_SERVERS) },
} as const;

/** The operator's outbound settings, checked before anything starts (a bad range exits with 2). */
function outboundConfig(values: { 'allow-outbound-cidr': string[]; 'dns-server': string[] }): OutboundConfig {
  const config = { allowCidrs: values['allow-outbound-cidr'].flatMap(splitList), dnsServers: values['dns-server'].flatMap(splitList) };
  try {
    createOutboundGuard(config);
  } catch (err) {
    process.stderr.write(`--allow-outbound-cidr / --dns-server: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
  return config;
}

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case 'start': {
    const { values } = parseArgs({
      args: rest,
      options: {
        'state-dir': { type: 'string' },
        port: { type: 'string' },
        cluster: { type: 'boolean', default: process.env.OUTRIGGER_CLUSTER === '1' },
        kubeconfig: { type: 'string' },
        'http-bind-address': { type: 'string', default: '127.0.0.1:8080' },
        'log-level': { type: 'string', default: process.env.LOG_LEVEL ?? 'info' },
        ...outboundFlags,
      },
      strict: true,
    });
    const outbound = outboundConfig(values);
    if (values.cluster || values.kubeconfig) {
      await runControllerProcess({ kubeconfig: values.kubeconfig, httpBindAddress: values['http-bind-address'], logLevel: values['log-level'] }, (m, o) => registerReconcilers(m, { ...o, outbound }));
      break;
    }
    const port = values.port === undefined ? undefined : Number(values.port);
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
      process.stderr.write(`--port must be a whole number from 0 to 65535, got "${values.port}"\n`);
      process.exit(2);
    }
    await runStandalone({ stateDir: values['state-dir'], port, httpBindAddress: values['http-bind-address'], logLevel: values['log-level'], outbound });
    break;
  }
  case 'controller': {
    const { values } = parseArgs({
      args: rest,
      options: {
        kubeconfig: { type: 'string' },
        namespace: { type: 'string' },
        'leader-elect': { type: 'boolean', default: false },
        'leader-election-namespace': { type: 'string' },
        'leader-election-id': { type: 'string', default: 'outrigger-controller' },
        'http-bind-address': { type: 'string', default: '0.0.0.0:8080' },
        'log-level': { type: 'string', default: process.env.LOG_LEVEL ?? 'info' },
        ...outboundFlags,
      },
      strict: true,
    });
    const outbound = outboundConfig(values);
    await runControllerProcess({
      kubeconfig: values.kubeconfig,
      namespace: values.namespace,
      leaderElect: values['leader-elect'],
      leaderElectionNamespace: values['leader-election-namespace'],
      leaderElectionId: values['leader-election-id'],
      httpBindAddress: values['http-bind-address'],
      logLevel: values['log-level'],
    }, (m, o) => registerReconcilers(m, { ...o, outbound }));
    break;
  }
  case 'webhook': {
    const { values } = parseArgs({
      args: rest,
      options: {
        kubeconfig: { type: 'string' },
        'bind-address': { type: 'string', default: '0.0.0.0:9443' },
        'http-bind-address': { type: 'string', default: '0.0.0.0:8080' },
        'cert-mode': { type: 'string', default: 'self-managed' },
        'cert-dir': { type: 'string' },
        namespace: { type: 'string' },
        'cert-secret': { type: 'string', default: 'outrigger-webhook-tls' },
        'service-name': { type: 'string' },
        'tls-san': { type: 'string', multiple: true, default: [] },
        'validating-webhook-configuration': { type: 'string', multiple: true, default: [] },
        'mutating-webhook-configuration': { type: 'string', multiple: true, default: [] },
        'log-level': { type: 'string', default: process.env.LOG_LEVEL ?? 'info' },
      },
      strict: true,
    });
    const certMode = values['cert-mode'];
    if (certMode !== 'self-managed' && certMode !== 'files') {
      process.stderr.write(`--cert-mode must be self-managed or files, got "${certMode}"\n`);
      process.exit(2);
    }
    const { runWebhookProcess } = await import('../webhooks/main.ts');
    await runWebhookProcess({
      kubeconfig: values.kubeconfig,
      bindAddress: values['bind-address'],
      httpBindAddress: values['http-bind-address'],
      logLevel: values['log-level'],
      certMode,
      certDir: values['cert-dir'],
      namespace: values.namespace,
      certSecret: values['cert-secret'],
      serviceName: values['service-name'],
      tlsSans: values['tls-san'].flatMap((v) => v.split(',')).filter(Boolean),
      validatingConfigurations: values['validating-webhook-configuration'],
      mutatingConfigurations: values['mutating-webhook-configuration'],
    }).catch((err: unknown) => {
      process.stderr.write(`outrigger webhook: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
    break;
  }
  case 'workspaces-from-csv': {
    const { runWorkspacesFromCsv } = await import('../cli/workspaces-from-csv.ts');
    process.exitCode = runWorkspacesFromCsv(rest);
    break;
  }
  case undefined:
  case '-h':
  case '--help':
    process.stdout.write(usage);
    break;
  default:
    process.stderr.write(`unknown command "${command}"\n\n${usage}`);
    process.exit(2);
}
