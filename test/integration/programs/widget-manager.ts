// A manager process for the leader-election tests: reconciles Widgets with leader election on,
// stamping its identity into status so the test can see who leads. Args: kubeconfig identity leaseNamespace
import { KubeConfig } from '@kubernetes/client-node';
import { Manager, createLogger } from '../../../controller/index.ts';
import { addWidgetController } from './widget.ts';

const [kubeconfigPath, identity, leaseNamespace] = process.argv.slice(2);
if (!kubeconfigPath || !identity || !leaseNamespace) throw new Error('usage: widget-manager.ts KUBECONFIG IDENTITY LEASE_NAMESPACE');
const kc = new KubeConfig();
kc.loadFromFile(kubeconfigPath);
const manager = new Manager({
  kubeConfig: kc,
  logger: createLogger({ level: 'info' }),
  httpAddress: null,
  leaderElection: { namespace: leaseNamespace, name: 'widget-controller', identity },
});
addWidgetController(manager, identity, [], { namespace: leaseNamespace });
manager.on('leading', () => process.stdout.write(`LEADING ${identity}\n`));
manager.on('leadershipLost', () => process.exit(1));
process.on('SIGTERM', () => { void manager.stop().then(() => process.exit(0)); });
await manager.start();
process.stdout.write(`STARTED ${identity}\n`);
