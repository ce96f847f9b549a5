// Shared by test/unit/crds.test.ts (zod) and test/integration/crds.test.ts (kube-apiserver):
// the example manifests, and a table of invalid manifests, each made from an example by one
// edit, with the field path both layers must name in their error.
import { readFileSync, globSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const EXAMPLES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [key: string]: unknown };
  spec?: Record<string, any>;
  [key: string]: any;
}

export interface ExampleDocument {
  file: string;
  manifest: Manifest;
}

export function loadExamples(): ExampleDocument[] {
  const docs: ExampleDocument[] = [];
  for (const path of globSync(join(EXAMPLES_DIR, '*.yaml')).sort()) {
    for (const doc of parseAllDocuments(readFileSync(path, 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]!.message}`);
      const manifest = doc.toJS() as Manifest | null;
      if (manifest) docs.push({ file: basename(path), manifest });
    }
  }
  return docs;
}

function example(kind: string, name: string): Manifest {
  const found = loadExamples().find((d) => d.manifest.kind === kind && d.manifest.metadata.name === name);
  if (!found) throw new Error(`no example ${kind}/${name} in examples/`);
  return structuredClone(found.manifest);
}

export interface InvalidCase {
  /** What is wrong, in words. */
  name: string;
  manifest: Manifest;
  /** The field path both zod and kube-apiserver must name (kube-apiserver spelling). */
  path: string;
}

/** A copy of an example with one edit to its spec; the copy is renamed so cases never collide. */
function invalid(name: string, kind: string, exampleName: string, path: string, edit: (spec: Record<string, any>) => void): InvalidCase {
  const manifest = example(kind, exampleName);
  edit(manifest.spec!);
  return { name, manifest, path };
}

const KEY = 'AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const route0 = (spec: Record<string, any>) => spec.routes[0];
const probeRule = (spec: Record<string, any>) => spec.rules.find((r: any) => r.httpProbe);
const probeIndex = () => example('Alert', 'quickstart').spec!.rules.findIndex((r: any) => r.httpProbe);
const errorRateIndex = () => example('Alert', 'quickstart').spec!.rules.findIndex((r: any) => r.errorRate);

export function invalidCases(): InvalidCase[] {
  const probe = probeIndex();
  const errorRate = errorRateIndex();
  return [
    // Host
    invalid('ssh without an address', 'Host', 'edge', 'spec.address', (s) => delete s.address),
    invalid('no way in at all', 'Host', 'local', 'spec', (s) => delete s.docker),
    invalid('two Docker endpoints', 'Host', 'local', 'spec.docker', (s) => (s.docker.tcp = { tlsSecretRef: { name: 'docker-tls' } })),
    invalid('docker over SSH without ssh', 'Host', 'edge', 'spec.ssh', (s) => {
      delete s.ssh;
      delete s.nginx;
    }),
    invalid('nginx without ssh', 'Host', 'local', 'spec.ssh', (s) => (s.nginx = {})),
    invalid('a ulimit Docker does not know', 'Host', 'local', 'spec.docker.ulimits[0].name', (s) => (s.docker.ulimits = [{ name: 'files', soft: 1, hard: 1 }])),
    invalid('a soft ulimit above the hard one', 'Host', 'local', 'spec.docker.ulimits[0].soft', (s) => (s.docker.ulimits = [{ name: 'nofile', soft: 30000, hard: 20000 }])),
    invalid('a ulimit under -1', 'Host', 'local', 'spec.docker.ulimits[0].hard', (s) => (s.docker.ulimits = [{ name: 'nproc', soft: 1, hard: -2 }])),
    invalid('the same ulimit twice', 'Host', 'local', 'spec.docker.ulimits[1]', (s) => (s.docker.ulimits = [{ name: 'nofile', soft: 1, hard: 1 }, { name: 'nofile', soft: 2, hard: 2 }])),
    invalid('host key missing', 'Host', 'edge', 'spec.ssh.hostKey', (s) => delete s.ssh.hostKey),
    invalid('host key with an options prefix', 'Host', 'edge', 'spec.ssh.hostKey', (s) => (s.ssh.hostKey = `command="sh" ssh-ed25519 ${KEY}`)),
    invalid('host key of two lines', 'Host', 'edge', 'spec.ssh.hostKey', (s) => (s.ssh.hostKey = `ssh-ed25519 ${KEY}\nssh-ed25519 ${KEY}`)),
    invalid('SSH port 0', 'Host', 'edge', 'spec.ssh.port', (s) => (s.ssh.port = 0)),
    invalid('reload command smuggling a shell', 'Host', 'edge', 'spec.nginx.reloadCommand[2]', (s) => (s.nginx.reloadCommand = ['nginx', '-s', 'reload;rm'])),
    invalid('config directory escaping with ..', 'Host', 'edge', 'spec.nginx.configDir', (s) => (s.nginx.configDir = '/etc/nginx/../../root')),
    invalid('worker group smuggling a command', 'Host', 'edge', 'spec.nginx.workerGroup', (s) => (s.nginx.workerGroup = 'www-data;id')),
    invalid('status port 0', 'Host', 'edge', 'spec.nginx.statusPort', (s) => (s.nginx.statusPort = 0)),
    invalid('Secret reference into another namespace', 'Host', 'edge', 'spec.ssh.privateKeySecretRef.namespace', (s) => (s.ssh.privateKeySecretRef.namespace = 'kube-system')),
    invalid('address with a space', 'Host', 'edge', 'spec.address', (s) => (s.address = 'edge host')),
    // ProxmoxCluster
    invalid('plain http endpoint', 'ProxmoxCluster', 'pve', 'spec.endpoint', (s) => (s.endpoint = 'http://pve.example.com:8006')),
    invalid('CA bundle and insecure together', 'ProxmoxCluster', 'pve', 'spec.tls.insecureSkipVerify', (s) => (s.tls.insecureSkipVerify = true)),
    invalid('VMID range upside down', 'ProxmoxCluster', 'pve', 'spec.vmidRange.start', (s) => (s.vmidRange = { start: 9500, end: 9000 })),
    invalid('VMID below 100', 'ProxmoxCluster', 'pve', 'spec.vmidRange.start', (s) => (s.vmidRange.start = 99)),
    invalid('token id without token name', 'ProxmoxCluster', 'pve', 'spec.tokenId', (s) => (s.tokenId = 'outrigger@pve')),
    // Workspace
    invalid('two runtimes', 'Workspace', 'alice', 'spec.runtime', (s) => (s.runtime.proxmox = { clusterRef: { name: 'pve' }, template: 'ubuntu' })),
    invalid('no runtime', 'Workspace', 'alice', 'spec.runtime', (s) => (s.runtime = {})),
    invalid('unknown state', 'Workspace', 'alice', 'spec.state', (s) => (s.state = 'Paused')),
    invalid('idle timeout in words', 'Workspace', 'alice', 'spec.idleTimeout', (s) => (s.idleTimeout = 'two hours')),
    invalid('memory that is not a quantity', 'Workspace', 'alice', 'spec.resources.memory', (s) => (s.resources.memory = 'lots')),
    invalid('image with upper case', 'Workspace', 'alice', 'spec.runtime.docker.image', (s) => (s.runtime.docker.image = 'Debian:12')),
    invalid('env with value and secretKeyRef', 'Workspace', 'alice', 'spec.env[1]', (s) => (s.env[1].value = 'x')),
    invalid('env name starting with a digit', 'Workspace', 'alice', 'spec.env[0].name', (s) => (s.env[0].name = '1TZ')),
    invalid('duplicate env names', 'Workspace', 'alice', 'spec.env[1]', (s) => (s.env[1].name = 'TZ')),
    invalid('bootstrap with script and dotfiles', 'Workspace', 'alice', 'spec.bootstrap', (s) => (s.bootstrap.dotfiles = { repository: 'https://git.example.com/a/b.git' })),
    invalid('dotfiles URL that is an option', 'Workspace', 'bob', 'spec.bootstrap.dotfiles.repository', (s) => (s.bootstrap.dotfiles.repository = '--upload-pack=touch /tmp/x')),
    invalid('authorized key with a command option', 'Workspace', 'bob', 'spec.ssh.authorizedKeys[0]', (s) => (s.ssh.authorizedKeys = [`command="curl x|sh" ssh-ed25519 ${KEY}`])),
    invalid('port named editor', 'Workspace', 'bob', 'spec.ports[0].name', (s) => (s.ports[0].name = 'editor')),
    invalid('port clashing with the editor', 'Workspace', 'bob', 'spec.ports', (s) => (s.ports[0].port = 8080)),
    invalid('secret file path with ..', 'Workspace', 'alice', 'spec.files[0].path', (s) => (s.files = [{ path: '/home/coder/../../etc/shadow', secretKeyRef: { name: 'alice-workspace', key: 'git-token' } }])),
    // ProxyRoute: everything that could break out of an nginx configuration.
    invalid('server name with ;', 'ProxyRoute', 'bob', 'spec.serverNames[0]', (s) => (s.serverNames = ['bob.example.com;include /etc/passwd'])),
    invalid('regex server name', 'ProxyRoute', 'bob', 'spec.serverNames[0]', (s) => (s.serverNames = ['~^(www\\.)?example\\.com$'])),
    invalid('catch-all server name _', 'ProxyRoute', 'bob', 'spec.serverNames[0]', (s) => (s.serverNames = ['_'])),
    invalid('catch-all server name *', 'ProxyRoute', 'bob', 'spec.serverNames[0]', (s) => (s.serverNames = ['*'])),
    invalid('server name with a newline', 'ProxyRoute', 'bob', 'spec.serverNames[0]', (s) => (s.serverNames = ['bob.example.com\nlisten 8080'])),
    invalid('duplicate server names', 'ProxyRoute', 'bob', 'spec.serverNames[1]', (s) => (s.serverNames = ['bob.example.com', 'bob.example.com'])),
    invalid('no server names', 'ProxyRoute', 'bob', 'spec.serverNames', (s) => (s.serverNames = [])),
    invalid('path traversal', 'ProxyRoute', 'bob', 'spec.routes[0].path', (s) => (route0(s).path = '/static/../../etc')),
    invalid('path breaking out of the block', 'ProxyRoute', 'bob', 'spec.routes[0].path', (s) => (route0(s).path = '/a{return 200;}')),
    invalid('regex metacharacters in a prefix path', 'ProxyRoute', 'bob', 'spec.routes[0].path', (s) => (route0(s).path = '/api(.*)$')),
    invalid('encoded newline in a path', 'ProxyRoute', 'bob', 'spec.routes[0].path', (s) => (route0(s).path = '/a%0d%0aX-Injected:1')),
    invalid('quote in a path', 'ProxyRoute', 'bob', 'spec.routes[0].path', (s) => (route0(s).path = "/a'b")),
    invalid('relative path', 'ProxyRoute', 'bob', 'spec.routes[0].path', (s) => (route0(s).path = 'api')),
    invalid('regex path type', 'ProxyRoute', 'bob', 'spec.routes[0].pathType', (s) => (route0(s).pathType = 'Regex')),
    invalid('duplicate routes', 'ProxyRoute', 'bob', 'spec.routes[1]', (s) => (s.routes[1].path = '/')),
    invalid('nginx variable in a header value', 'ProxyRoute', 'bob', 'spec.routes[1].requestHeaders[0].value', (s) => (s.routes[1].requestHeaders[0].value = '$http_authorization')),
    invalid('quote in a header value', 'ProxyRoute', 'bob', 'spec.routes[1].requestHeaders[0].value', (s) => (s.routes[1].requestHeaders[0].value = 'a"; deny all; "')),
    invalid('CR/LF in a header value', 'ProxyRoute', 'bob', 'spec.routes[1].requestHeaders[0].value', (s) => (s.routes[1].requestHeaders[0].value = 'a\r\nX-Evil: 1')),
    invalid('braces in a header value', 'ProxyRoute', 'bob', 'spec.routes[1].requestHeaders[0].value', (s) => (s.routes[1].requestHeaders[0].value = '} server {')),
    invalid('header name with a colon', 'ProxyRoute', 'bob', 'spec.routes[1].requestHeaders[0].name', (s) => (s.routes[1].requestHeaders[0].name = 'X-A: b')),
    invalid('unix socket upstream', 'ProxyRoute', 'bob', 'spec.routes[1].upstream.address', (s) => (s.routes[1].upstream.address = 'unix:/var/run/docker.sock')),
    invalid('cloud metadata upstream', 'ProxyRoute', 'bob', 'spec.routes[1].upstream.address', (s) => (s.routes[1].upstream.address = '169.254.169.254')),
    invalid('metadata host name upstream', 'ProxyRoute', 'bob', 'spec.routes[1].upstream.address', (s) => (s.routes[1].upstream.address = 'metadata.google.internal')),
    invalid('link-local IPv6 upstream', 'ProxyRoute', 'bob', 'spec.routes[1].upstream.address', (s) => (s.routes[1].upstream.address = 'fe80::1')),
    invalid('unspecified upstream', 'ProxyRoute', 'bob', 'spec.routes[1].upstream.address', (s) => (s.routes[1].upstream.address = '0.0.0.0')),
    invalid('decimal-encoded metadata address', 'ProxyRoute', 'bob', 'spec.routes[1].upstream.address', (s) => (s.routes[1].upstream.address = '2852039166')),
    invalid('upstream port above 65535', 'ProxyRoute', 'bob', 'spec.routes[1].upstream.port', (s) => (s.routes[1].upstream.port = 70000)),
    invalid('upstream port 0', 'ProxyRoute', 'bob', 'spec.routes[1].upstream.port', (s) => (s.routes[1].upstream.port = 0)),
    invalid('address without a port', 'ProxyRoute', 'bob', 'spec.routes[1].upstream', (s) => delete s.routes[1].upstream.port),
    invalid('address and workspaceRef together', 'ProxyRoute', 'bob', 'spec.routes[0].upstream', (s) => (route0(s).upstream.address = '127.0.0.1')),
    invalid('TLS Secret in another namespace', 'ProxyRoute', 'bob', 'spec.tls.secretRef.namespace', (s) => (s.tls.secretRef.namespace = 'cert-manager')),
    invalid('realm with a quote', 'ProxyRoute', 'bob', 'spec.access.basicAuth.realm', (s) => (s.access.basicAuth.realm = 'a"; allow all; "')),
    invalid('CIDR prefix too long', 'ProxyRoute', 'bob', 'spec.access.allowCIDRs[0]', (s) => (s.access.allowCIDRs[0] = '10.0.0.0/33')),
    invalid('rate limit of 0', 'ProxyRoute', 'bob', 'spec.rateLimit.requestsPerSecond', (s) => (s.rateLimit.requestsPerSecond = 0)),
    invalid('timeout with nginx syntax', 'ProxyRoute', 'bob', 'spec.routes[0].timeouts.read', (s) => (route0(s).timeouts.read = '1h;')),
    // Lab
    invalid('machine with two runtimes', 'Lab', 'web-training', 'spec.machines[2]', (s) => (s.machines[2].proxmox = { clusterRef: { name: 'pve' }, template: 'debian' })),
    invalid('machine on an undefined network', 'Lab', 'web-training', 'spec.machines', (s) => (s.machines[0].networks[0].name = 'dmz')),
    invalid('dependsOn an unknown machine', 'Lab', 'web-training', 'spec.machines', (s) => (s.machines[1].dependsOn = ['cache'])),
    invalid('machine depending on itself', 'Lab', 'web-training', 'spec.machines', (s) => (s.machines[1].dependsOn = ['web'])),
    invalid('provision steps without ssh', 'Lab', 'web-training', 'spec.ssh', (s) => delete s.ssh),
    invalid('expiry and ttl together', 'Lab', 'web-training', 'spec.schedule.ttl', (s) => (s.schedule.expiresAt = '2030-01-01T00:00:00Z')),
    invalid('time of day 25:00', 'Lab', 'web-training', 'spec.schedule.dailyStop', (s) => (s.schedule.dailyStop = '25:00')),
    invalid('VLAN 5000', 'Lab', 'web-training', 'spec.networks[1].vlan', (s) => (s.networks[1].vlan = 5000)),
    invalid('unknown failure policy', 'Lab', 'web-training', 'spec.failurePolicy', (s) => (s.failurePolicy = 'Retry')),
    invalid('duplicate machine names', 'Lab', 'web-training', 'spec.machines[1]', (s) => (s.machines[1].name = 'db')),
    invalid('machine name with upper case', 'Lab', 'web-training', 'spec.machines[0].name', (s) => (s.machines[0].name = 'DB')),
    invalid('package with shell syntax', 'Lab', 'web-training', 'spec.machines[0].cloudInit.packages[0]', (s) => (s.machines[0].cloudInit.packages[0] = 'postgresql;reboot')),
    // Alert
    invalid('rule with two conditions', 'Alert', 'quickstart', 'spec.rules[0]', (s) => (s.rules[0].restartLooping = { targets: [{ kind: 'Workspace', name: 'bob' }] })),
    invalid('rule without a condition', 'Alert', 'quickstart', 'spec.rules[0]', (s) => delete s.rules[0].containerDown),
    invalid('receiver with two channels', 'Alert', 'quickstart', 'spec.receivers[1]', (s) => (s.receivers[1].webhook = { urlSecretRef: { name: 'alert-webhook' } })),
    invalid('rule naming an unknown receiver', 'Alert', 'quickstart', 'spec.rules', (s) => (s.rules[2].receivers = ['sms'])),
    invalid('probe URL with credentials', 'Alert', 'quickstart', `spec.rules[${probe}].httpProbe.url`, (s) => (probeRule(s).httpProbe.url = 'https://user:pw@bob.example.com/')),
    invalid('probe of the metadata service', 'Alert', 'quickstart', `spec.rules[${probe}].httpProbe.url`, (s) => (probeRule(s).httpProbe.url = 'http://169.254.169.254/latest/meta-data/')),
    invalid('expected status range upside down', 'Alert', 'quickstart', `spec.rules[${probe}].httpProbe.expectedStatus`, (s) => (probeRule(s).httpProbe.expectedStatus = { min: 500, max: 200 })),
    invalid('threshold over 100%', 'Alert', 'quickstart', `spec.rules[${errorRate}].errorRate.thresholdPercent`, (s) => (s.rules[errorRate].errorRate.thresholdPercent = 150)),
    invalid('container rule on a Host', 'Alert', 'quickstart', 'spec.rules[0].containerDown.targets[0].kind', (s) => (s.rules[0].containerDown.targets[0].kind = 'Host')),
    invalid('machine on a Workspace target', 'Alert', 'quickstart', 'spec.rules[0].containerDown.targets[0].machine', (s) => (s.rules[0].containerDown.targets[0].machine = 'web')),
    invalid('mail recipient with a header break', 'Alert', 'quickstart', 'spec.receivers[0].smtp.to[0]', (s) => (s.receivers[0].smtp.to[0] = 'ops@example.com\r\nBcc: x@example.com')),
    invalid('for in words', 'Alert', 'quickstart', 'spec.rules[0].for', (s) => (s.rules[0].for = 'two minutes')),
  ];
}
