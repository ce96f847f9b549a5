// The Dockerfile: it builds (on a local base image, as CI does: no registry is reachable, so the
// base is made from Debian packages plus the Node 24 binary of node_modules/node, and npm), holds
// production dependencies only, and its container runs the controller and the webhook as a
// non-root user on a read-only root filesystem against the real kube-apiserver.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../controlplane/process.ts';
import { freePort } from '../controlplane/launch.ts';
import { controlPlaneSkipReason, createTestNamespace, useControlPlane, type ControlPlane } from '../fixtures/controlplane.ts';
import { cacheDir, dockerClient, dockerSkipReason, dockerSocket } from '../fixtures/docker.ts';
import { waitFor } from '../fixtures/wait.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NODE_BINARY = join(ROOT, 'node_modules', 'node', 'bin', 'node');
const BASE_REPO = 'outrigger-local/node-base';
// What the base is made of; a change here builds a new base.
const BASE_PACKAGES = ['ca-certificates', 'libstdc++6'];
const NPM_SPEC = 'npm@11';
// Where this machine keeps extra CAs (a proxy in front of the package registries, for example):
// the base trusts what the machine trusts, or npm ci inside the build could not reach the registry.
const LOCAL_CA_DIR = '/usr/local/share/ca-certificates';

const docker = (args: string[], timeoutMs = 10 * 60_000) =>
  runCommand('docker', args, { timeoutMs, env: { ...process.env, DOCKER_HOST: `unix://${dockerSocket()}`, DOCKER_BUILDKIT: '0' } });

async function mustDocker(args: string[], timeoutMs?: number): Promise<string> {
  const r = await docker(args, timeoutMs);
  assert.equal(r.code, 0, `docker ${args.slice(0, 3).join(' ')}: ${r.stderr.trim().split('\n').slice(-15).join('\n')}`);
  return r.stdout.trim();
}

function localCaFiles(): string[] {
  return existsSync(LOCAL_CA_DIR) ? readdirSync(LOCAL_CA_DIR).filter((f) => f.endsWith('.crt')).sort() : [];
}

/** The npm package tarball, fetched once from the registry with the machine's npm and cached. */
async function npmTarball(): Promise<string> {
  const dir = join(cacheDir(), 'npm-pack');
  mkdirSync(dir, { recursive: true });
  const cached = readdirSync(dir).find((f) => /^npm-11\.[0-9.]+\.tgz$/.test(f));
  if (cached) return join(dir, cached);
  const r = await runCommand('npm', ['pack', NPM_SPEC, '--pack-destination', dir, '--silent'], { cwd: dir, timeoutMs: 120_000 });
  assert.equal(r.code, 0, `npm pack ${NPM_SPEC}: ${r.stderr}`);
  return join(dir, r.stdout.trim().split('\n').pop()!);
}

/**
 * A Debian root filesystem (mmdebstrap, apt's own sources) with node at /usr/local/bin/node and npm
 * at /usr/local/lib/node_modules/npm, as in the public Node image, imported with `docker import`
 * and tagged by a hash of its recipe so it is built once.
 */
async function ensureNodeBase(log: (line: string) => void): Promise<string> {
  const npm = await npmTarball();
  const hash = createHash('sha256');
  hash.update(readFileSync(NODE_BINARY));
  hash.update(`${BASE_PACKAGES.join(',')}|${npm.split('/').pop()}|${readFileSync('/etc/os-release', 'utf8')}`);
  for (const f of localCaFiles()) hash.update(readFileSync(join(LOCAL_CA_DIR, f)));
  const tag = `${BASE_REPO}:${hash.digest('hex').slice(0, 12)}`;
  if ((await docker(['image', 'inspect', tag])).code === 0) return tag;

  const tarball = join(cacheDir(), 'images', `${tag.replace(/[/:]/g, '-')}.tar`);
  if (!existsSync(tarball)) {
    log(`building the local Node 24 base ${tag} from Debian packages (about a minute)`);
    const work = mkdtempSync(join(tmpdir(), 'outrigger-node-base-'));
    try {
      const stage = join(work, 'stage');
      const npmDir = join(stage, 'usr', 'local', 'lib', 'node_modules', 'npm');
      mkdirSync(npmDir, { recursive: true });
      mkdirSync(join(stage, 'usr', 'local', 'bin'), { recursive: true });
      mkdirSync(join(stage, 'usr', 'local', 'etc'), { recursive: true });
      mkdirSync(join(stage, 'usr', 'local', 'share', 'ca-certificates'), { recursive: true });
      const untar = await runCommand('tar', ['-xzf', npm, '-C', npmDir, '--strip-components=1']);
      assert.equal(untar.code, 0, untar.stderr);
      const copy = await runCommand('cp', [NODE_BINARY, join(stage, 'usr', 'local', 'bin', 'node')]);
      assert.equal(copy.code, 0, copy.stderr);
      for (const f of localCaFiles()) writeFileSync(join(stage, 'usr', 'local', 'share', 'ca-certificates', f), readFileSync(join(LOCAL_CA_DIR, f)));
      writeFileSync(join(stage, 'usr', 'local', 'etc', 'npmrc'), 'cafile=/etc/ssl/certs/ca-certificates.crt\n');
      const sources = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'].find((p) => existsSync(p) && readFileSync(p, 'utf8').trim());
      assert.ok(sources, 'no apt sources on this machine');
      const suite = /^VERSION_CODENAME=(.*)$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1]?.trim() ?? 'bookworm';
      const partial = `${tarball}.partial`;
      mkdirSync(dirname(tarball), { recursive: true });
      const built = await runCommand('mmdebstrap', [
        '--quiet', '--mode=root', '--variant=essential', '--format=tar', `--include=${BASE_PACKAGES.join(',')}`,
        '--dpkgopt=path-exclude=/usr/share/man/*', '--dpkgopt=path-exclude=/usr/share/doc/*', '--dpkgopt=path-exclude=/usr/share/locale/*',
        `--customize-hook=sync-in '${stage}' /`,
        '--customize-hook=ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"',
        '--customize-hook=ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"',
        '--customize-hook=chroot "$1" update-ca-certificates',
        suite, partial, sources,
      ], { timeoutMs: 10 * 60_000 });
      assert.equal(built.code, 0, `mmdebstrap (apt-get install mmdebstrap): ${built.stderr.split('\n').slice(-20).join('\n')}`);
      renameSync(partial, tarball);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  await mustDocker(['import', '-c', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '-c', 'CMD ["node"]', tarball, tag]);
  return tag;
}

async function skipReason(): Promise<string | undefined> {
  return controlPlaneSkipReason() ?? (await dockerSkipReason());
}

describe('the container image', { skip: await skipReason() }, () => {
  let cp: ControlPlane;
  let dir: string;
  let image: string;
  let ns: string;
  let buildMs = 0;
  const containers: string[] = [];

  before(async () => {
    cp = await useControlPlane();
    dir = mkdtempSync(join(tmpdir(), 'outrigger-image-test-'));
    ns = (await createTestNamespace(cp.kubeConfig, 'image')).name;
    const base = await ensureNodeBase((line) => process.stderr.write(`[image.test] ${line}\n`));
    image = `outrigger-local/outrigger:test-${process.pid}`;
    const began = Date.now();
    // --network host: the dependency stage reaches the npm registry the way this machine does.
    await mustDocker(['build', '--network', 'host', '--build-arg', `BASE_IMAGE=${base}`, '-t', image, ROOT], 15 * 60_000);
    buildMs = Date.now() - began;
    process.stderr.write(`[image.test] built ${image} on ${base} in ${buildMs} ms\n`);
  });

  after(async () => {
    for (const c of containers) await docker(['rm', '-f', c]);
    if (image) await docker(['rmi', '-f', image]);
    await docker(['image', 'prune', '-f', '--filter', 'label=dev.outrigger.build-stage=dependencies']);
    await cp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the image's node on a one-line script and returns what it printed. */
  const nodeIn = (script: string) => mustDocker(['run', '--rm', '--read-only', '--network', 'none', '--entrypoint', 'node', image, '-e', script]);

  it('runs as a numeric non-root user, node 24, sources without a build step', async () => {
    const config = await dockerClient().getImage(image).inspect();
    assert.equal(config.Config.User, '65532:65532');
    assert.deepEqual(config.Config.Entrypoint, ['node', 'bin/outrigger.ts']);
    assert.deepEqual(config.Config.Cmd, ['controller']);
    assert.equal(await nodeIn('console.log(process.version.split(".")[0], process.getuid(), process.getgid())'), 'v24 65532 65532');
  });

  it('holds exactly the production dependencies of package-lock.json, and only the sources it runs', async () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }> };
    const entries = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'));
    const dev = entries.filter(([, p]) => p.dev).map(([path]) => path);
    const production = entries.filter(([, p]) => !p.dev && !p.optional && !p.devOptional).map(([path]) => path);
    assert.ok(dev.includes('node_modules/typescript') && production.includes('node_modules/express'));
    const present = JSON.parse(await nodeIn(`const fs=require("fs");console.log(JSON.stringify(${JSON.stringify([...dev, ...production])}.filter((p)=>fs.existsSync(p))))`)) as string[];
    const presentSet = new Set(present);
    assert.deepEqual(dev.filter((p) => presentSet.has(p)), [], 'devDependencies must not be in the image');
    assert.deepEqual(production.filter((p) => !presentSet.has(p)), [], 'every production dependency is installed');
    const app = JSON.parse(await nodeIn('console.log(JSON.stringify(require("fs").readdirSync(".").sort()))'));
    assert.deepEqual(app, ['bin', 'controller', 'crds', 'embedded', 'node_modules', 'package.json', 'pki', 'reconcilers', 'webhooks']);
  });

  it('starts the controller as a non-root user on a read-only root filesystem, and stops cleanly', async () => {
    const kubeconfig = join(dir, 'kubeconfig');
    // Readable by the container's user; the token is this control plane's and dies with it.
    writeFileSync(kubeconfig, readFileSync(cp.kubeconfigPath), { mode: 0o644 });
    const port = await freePort();
    const name = `outrigger-image-test-${process.pid}-controller`;
    containers.push(name);
    await mustDocker([
      'run', '-d', '--name', name, '--network', 'host', '--read-only', '--tmpfs', '/tmp:size=16m',
      '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '-v', `${kubeconfig}:/etc/outrigger/kubeconfig:ro`,
      image, 'controller', '--kubeconfig=/etc/outrigger/kubeconfig', '--leader-elect', `--leader-election-namespace=${ns}`, `--namespace=${ns}`, `--http-bind-address=127.0.0.1:${port}`,
    ]);
    const container = dockerClient().getContainer(name);
    const logs = async () => (await docker(['logs', name])).stdout + (await docker(['logs', name])).stderr;
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, { description: `the controller in the container to answer /healthz (logs: ${await logs()})`, timeoutMs: 60_000 });
    const lease = await waitFor(async () => {
      const r = await cp.kubectl(['get', 'lease', 'outrigger-controller', '-n', ns, '-o', 'jsonpath={.spec.holderIdentity}']);
      return r.code === 0 ? r.stdout.trim() : '';
    }, { description: 'the containerized controller to take the leader Lease', timeoutMs: 60_000 });
    assert.ok(lease.length > 0);

    const pid = (await container.inspect()).State.Pid;
    const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    assert.deepEqual(uids?.slice(1), ['65532', '65532', '65532', '65532'], 'the controller process runs as uid 65532');
    assert.match(await logs(), /"msg":"controller started"/);

    const write = await docker(['exec', name, 'node', '-e', 'require("fs").writeFileSync("/app/bin/x", "")']);
    assert.notEqual(write.code, 0);
    assert.match(write.stderr, /EROFS|EACCES/, 'the root filesystem is read-only');

    const stopped = await docker(['stop', '--time', '30', name], 60_000);
    assert.equal(stopped.code, 0);
    const state = (await container.inspect()).State;
    assert.equal(state.ExitCode, 0, `exit code after SIGTERM (logs: ${await logs()})`);
    assert.match(await logs(), /"msg":"shutting down"/);
  });

  it('starts the webhook the same way: issues its certificate and serves TLS', async () => {
    const kubeconfig = join(dir, 'kubeconfig');
    const [tlsPort, httpPort] = [await freePort(), await freePort()];
    const name = `outrigger-image-test-${process.pid}-webhook`;
    containers.push(name);
    await mustDocker([
      'run', '-d', '--name', name, '--network', 'host', '--read-only', '--tmpfs', '/tmp:size=16m',
      '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '-v', `${kubeconfig}:/etc/outrigger/kubeconfig:ro`,
      image, 'webhook', '--kubeconfig=/etc/outrigger/kubeconfig', `--namespace=${ns}`, '--tls-san=127.0.0.1',
      `--bind-address=127.0.0.1:${tlsPort}`, `--http-bind-address=127.0.0.1:${httpPort}`,
    ]);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).ok, { description: 'the containerized webhook to be ready', timeoutMs: 60_000 });
    const secret = await cp.kubectl(['get', 'secret', 'outrigger-webhook-tls', '-n', ns, '-o', 'jsonpath={.type}']);
    assert.equal(secret.stdout, 'kubernetes.io/tls');
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    assert.match(metrics, /outrigger_webhook_certificate_expiry_seconds \d+/);
  });
});
