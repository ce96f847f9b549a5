// No acknowledged write is lost when the embedded API server is killed: the server runs as a
// child process (embedded/main.ts, as users run it), several clients write to it, it gets
// SIGKILLed at a random moment — often in the middle of a journal flush or a compaction — and is
// started again on the same state directory. Every write that was answered must be there, with
// what was written, and resourceVersions must keep increasing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './embedded-target.ts';

const ROUNDS = Number(process.env.EMBEDDED_DURABILITY_ROUNDS ?? 12);
const WRITERS = 6;

interface Server {
  child: ChildProcess;
  url: string;
  token: string;
  ca: string;
  exited: Promise<void>;
}

function startServer(stateDir: string): Promise<Server> {
  const child = spawn(
    process.execPath,
    [join(REPO_ROOT, 'embedded', 'main.ts'), '--state-dir', stateDir, '--port', '0', '--no-crds', '--quiet', '--compact-after-bytes', '32768'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 20_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const line = out.split('\n').find((l) => l.includes('"ready":true'));
      if (!line) return;
      clearTimeout(timer);
      const ready = JSON.parse(line) as { url: string };
      resolve({
        child,
        url: ready.url,
        token: readFileSync(join(stateDir, 'token'), 'utf8').trim(),
        ca: readFileSync(join(stateDir, 'tls', 'ca.crt'), 'utf8'),
        exited,
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ready: ${stderr}`));
    });
  });
}

function request(s: Server, agent: https.Agent, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ code: number; body: Record<string, unknown> }> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(path, s.url),
      {
        method,
        agent,
        ca: s.ca,
        headers: {
          authorization: `Bearer ${s.token}`,
          accept: 'application/json',
          ...(payload ? { 'content-type': contentType, 'content-length': String(payload.length) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve({ code: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
          } catch (err) {
            reject(err);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('embedded API server durability', () => {
  it(`keeps every acknowledged write across ${ROUNDS} SIGKILLs`, { timeout: 240_000 }, async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'outrigger-durability-'));
    const acked = new Map<string, { v: string; rv: number }>(); // configmap name -> last acknowledged value
    let counterAcked = -1;
    let maxAckedRv = 0;
    let server: Server | undefined;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        server = await startServer(stateDir);
        const agent = new https.Agent({ keepAlive: true });
        const s = server;

        // Everything acknowledged before must have survived, with its value.
        const list = await request(s, agent, 'GET', '/api/v1/namespaces/default/configmaps');
        assert.equal(list.code, 200);
        const items = new Map(
          ((list.body.items ?? []) as { metadata: { name: string; resourceVersion: string }; data?: Record<string, string> }[]).map((i) => [i.metadata.name, i]),
        );
        for (const [name, want] of acked) {
          const got = items.get(name);
          assert.ok(got, `round ${round}: acknowledged ConfigMap ${name} is missing`);
          if (name === 'counter') {
            assert.ok(Number(got.data?.v) >= counterAcked, `round ${round}: counter went back from ${counterAcked} to ${got.data?.v}`);
          } else {
            assert.equal(got.data?.v, want.v, `round ${round}: ${name} lost its acknowledged value`);
          }
          assert.ok(Number(got.metadata.resourceVersion) >= want.rv, `round ${round}: ${name} has an older resourceVersion than acknowledged`);
        }
        if (round === 0) {
          const c = await request(s, agent, 'POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'counter' }, data: { v: '0' } });
          assert.equal(c.code, 201);
          counterAcked = 0;
          acked.set('counter', { v: '0', rv: Number((c.body.metadata as Record<string, string>).resourceVersion) });
        }

        // Writers create and update until the kill; the kill lands at a random moment.
        let killed = false;
        const writers = Array.from({ length: WRITERS }, async (_, w) => {
          for (let n = 0; !killed; n++) {
            const name = `r${round}-w${w}-${n}`;
            try {
              const res =
                w === 0
                  ? await request(s, agent, 'PATCH', '/api/v1/namespaces/default/configmaps/counter', { data: { v: String(round * 100_000 + n) } }, 'application/merge-patch+json')
                  : await request(s, agent, 'POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { v: name } });
              const rv = Number((res.body.metadata as Record<string, string> | undefined)?.resourceVersion ?? 0);
              if (res.code === 200 && w === 0) {
                counterAcked = round * 100_000 + n;
                acked.set('counter', { v: String(counterAcked), rv });
              } else if (res.code === 201) {
                acked.set(name, { v: name, rv });
              } else {
                throw new Error(`unexpected answer ${res.code}: ${JSON.stringify(res.body)}`);
              }
              assert.ok(rv > maxAckedRv || w === 0 || rv > 0, 'resourceVersions are positive');
              maxAckedRv = Math.max(maxAckedRv, rv);
            } catch (err) {
              if (killed) return; // the connection died with the server: not acknowledged
              throw err;
            }
          }
        });
        await new Promise((r) => setTimeout(r, 60 + Math.floor(Math.random() * 300)));
        killed = true;
        s.child.kill('SIGKILL');
        await Promise.all(writers);
        await s.exited;
        agent.destroy();
      }
      // One more start: new writes continue above every acknowledged resourceVersion.
      server = await startServer(stateDir);
      const agent = new https.Agent({ keepAlive: false });
      const fresh = await request(server, agent, 'POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after' } });
      assert.ok(Number((fresh.body.metadata as Record<string, string>).resourceVersion) > maxAckedRv, 'the resourceVersion counter never goes back');
      assert.ok(acked.size > ROUNDS * 10, `enough writes were acknowledged to mean something (${acked.size})`);
      server.child.kill('SIGTERM');
      await server.exited;
      server = undefined;
    } finally {
      if (server?.child.exitCode === null && server.child.pid) process.kill(server.child.pid, 'SIGKILL');
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
