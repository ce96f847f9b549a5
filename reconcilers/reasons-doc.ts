// docs/reasons.md, rendered from every layer's reason catalog: what a reason seen in
// `kubectl describe` (a condition or an event) means and who reports it.
import { reasonCatalog } from '../controller/index.ts';
import './index.ts'; // loads every registered layer, and with it every catalog
import './proxmox/errors.ts'; // the Proxmox provider, not registered with a kind yet

const LAYERS: Record<string, string> = {
  controller: 'the controller runtime (any kind)',
  kit: 'the reconcile kit (any kind)',
  docker: 'the Docker provider',
  ssh: 'the SSH layer',
  nginx: 'the nginx layer',
  net: 'the outbound address guard',
  proxmox: 'the Proxmox provider',
  host: 'Host',
  workspace: 'Workspace',
  proxyroute: 'ProxyRoute',
};

export function renderReasonsDoc(): string {
  const lines = [
    '# Reasons',
    '',
    'Every reason Outrigger writes into a condition (`kubectl describe`, `kubectl get -o yaml`) or an',
    'Event, with what it means. Generated from the reason catalogs by `npm run generate`; do not edit.',
    '',
  ];
  let layer = '';
  for (const entry of reasonCatalog()) {
    if (entry.layer !== layer) {
      layer = entry.layer;
      lines.push(`## ${LAYERS[layer] ?? layer}`, '', '| reason | meaning |', '| --- | --- |');
    }
    lines.push(`| \`${entry.reason}\` | ${entry.meaning.replace(/\|/g, '\\|')} |`);
    const next = reasonCatalog()[reasonCatalog().indexOf(entry) + 1];
    if (!next || next.layer !== layer) lines.push('');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
