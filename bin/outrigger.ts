#!/usr/bin/env node
// The outrigger command line: `outrigger controller` runs the controller against the cluster in the
// current kubeconfig (or in-cluster config inside a Pod).
import { parseArgs } from 'node:util';
import { runControllerProcess } from '../controller/main.ts';
import { registerReconcilers } from '../reconcilers/index.ts';

const usage = `usage: outrigger <command> [flags]

commands:
  controller   run the controller against a Kubernetes API
               --kubeconfig PATH          kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)
               --namespace NS             only reconcile objects in NS (default: all)
               --leader-elect             take part in leader election (default: off)
               --leader-election-namespace NS  where the Lease lives (default: $POD_NAMESPACE or default)
               --http-bind-address H:P    /healthz, /readyz and /metrics (default 0.0.0.0:8080)
               --log-level LEVEL          debug, info, warn, error (default info)
`;

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case 'controller': {
    const { values } = parseArgs({
      args: rest,
      options: {
        kubeconfig: { type: 'string' },
        namespace: { type: 'string' },
        'leader-elect': { type: 'boolean', default: false },
        'leader-election-namespace': { type: 'string' },
        'http-bind-address': { type: 'string', default: '0.0.0.0:8080' },
        'log-level': { type: 'string', default: process.env.LOG_LEVEL ?? 'info' },
      },
      strict: true,
    });
    await runControllerProcess({
      kubeconfig: values.kubeconfig,
      namespace: values.namespace,
      leaderElect: values['leader-elect'],
      leaderElectionNamespace: values['leader-election-namespace'],
      httpBindAddress: values['http-bind-address'],
      logLevel: values['log-level'],
    }, registerReconcilers);
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
