// Runs inside a trap network (test/fixtures/trap-network.ts) on behalf of net-guard.test.ts: it
// listens on the forbidden addresses (traps that record every connection and every byte), serves
// two good HTTP(S) servers, and makes requests through the outbound guard as a client would.
// Protocol: one JSON command per stdin line, one JSON answer per stdout line.
//   first line {tls: {certificate, privateKey}}            -> {ready: true}
//   {op: 'request', client: 'http' | 'undici', url, resolver: 'system' | 'dns', allow?: string[]}
//   {op: 'connect', host, port, resolver}                   (net.connect with the guard's lookup)
//   {op: 'unguarded', host, port}                           (the control: a plain connect, no guard)
//   {op: 'traps'}                                           -> every trap connection so far
import { createInterface } from 'node:readline';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { Agent, buildConnector, fetch } from 'undici';
import { NameResolver, OutboundGuard, outboundPolicy } from '../../../reconcilers/net/index.ts';
import { TRAP_ADDRESSES } from '../../fixtures/trap-network.ts';

const FIELD = 'spec.rules[0].httpProbe.url';
export const AGENT_PORTS = { http: 8080, https: 8443, wildcardTrap: 9999 } as const;

interface Hit { trap: string; remoteAddress: string; remotePort: number; bytes: number }
const hits: Hit[] = [];

function trap(host: string, port: number, label: string): Promise<net.Server> {
  const server = net.createServer((socket) => {
    const hit: Hit = { trap: label, remoteAddress: socket.remoteAddress ?? '', remotePort: socket.remotePort ?? 0, bytes: 0 };
    hits.push(hit);
    socket.on('data', (d) => { hit.bytes += d.length; });
    socket.on('error', () => {});
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve(server));
  });
}

function goodHandler(identity: string): http.RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/redirect') {
      res.writeHead(302, { location: url.searchParams.get('to') ?? '/' });
      res.end();
      return;
    }
    res.end(`good ${identity}`);
  };
}

function listen(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve());
  });
}

interface ErrorFacts { name: string; code?: string; field?: string; message: string; addressClass?: string; address?: string }

/** The guard's error, wherever a client wrapped it (undici: TypeError "fetch failed" with a cause). */
function facts(err: unknown): ErrorFacts {
  const seen: unknown[] = [];
  let e: unknown = err;
  while (e instanceof Error && !seen.includes(e)) {
    seen.push(e);
    const x = e as Error & { code?: string; field?: string; addressClass?: string; address?: string };
    if (x.name === 'ForbiddenAddressError' || x.name === 'NameNotResolvedError') {
      return { name: x.name, message: x.message, ...(x.code ? { code: x.code } : {}), ...(x.field ? { field: x.field } : {}), ...(x.addressClass ? { addressClass: x.addressClass } : {}), ...(x.address ? { address: x.address } : {}) };
    }
    e = x.cause ?? (e instanceof AggregateError ? e.errors[0] : undefined);
  }
  const top = err as Error & { code?: string };
  return { name: top?.name ?? 'Error', message: String(top?.message ?? err), ...(top?.code ? { code: String(top.code) } : {}) };
}

function guardFor(cmd: { resolver?: string; allow?: string[] }): OutboundGuard {
  return new OutboundGuard({
    policy: outboundPolicy(cmd.allow ?? ['10.214.0.0/24']),
    resolver: new NameResolver({ servers: cmd.resolver === 'dns' ? ['127.0.0.1'] : [] }),
  });
}

let ca = '';

/** node's http(s) with the guard's agents, following up to 5 redirects itself (each hop a new connection). */
async function nodeRequest(guard: OutboundGuard, url: string): Promise<{ status: number; body: string; hops: number }> {
  const agents = { http: guard.httpAgent(FIELD), https: guard.httpsAgent(FIELD, { ca }) };
  try {
    let current = new URL(url);
    for (let hop = 0; hop <= 5; hop++) {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const mod = current.protocol === 'https:' ? https : http;
        const req = mod.get(current, { agent: current.protocol === 'https:' ? agents.https : agents.http, timeout: 5_000 }, resolve);
        req.on('timeout', () => req.destroy(new Error('timed out')));
        req.on('error', reject);
      });
      let body = '';
      for await (const chunk of res) body += chunk;
      if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && res.headers.location) {
        current = new URL(res.headers.location, current);
        continue;
      }
      return { status: res.statusCode ?? 0, body, hops: hop };
    }
    throw new Error('too many redirects');
  } finally {
    agents.http.destroy();
    agents.https.destroy();
  }
}

/** undici's fetch, following redirects itself; the guard sits in its connector. */
async function undiciRequest(guard: OutboundGuard, url: string): Promise<{ status: number; body: string }> {
  const dispatcher = new Agent({ connect: guard.connector(FIELD, buildConnector({ lookup: guard.lookupFor(FIELD), ca })) });
  try {
    const res = await fetch(url, { dispatcher, redirect: 'follow', signal: AbortSignal.timeout(5_000) });
    return { status: res.status, body: await res.text() };
  } finally {
    await dispatcher.close();
  }
}

function plainConnect(host: string, port: number, lookup?: OutboundGuard): Promise<{ localPort: number }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, ...(lookup ? { lookup: lookup.lookupFor(FIELD) } : {}) });
    socket.once('connect', () => {
      const localPort = socket.localPort ?? 0;
      socket.end();
      resolve({ localPort });
    });
    socket.once('error', reject);
  });
}

async function handle(cmd: Record<string, unknown>): Promise<unknown> {
  switch (cmd.op) {
    case 'request': {
      const guard = guardFor(cmd as { resolver?: string; allow?: string[] });
      try {
        const r = cmd.client === 'undici' ? await undiciRequest(guard, String(cmd.url)) : await nodeRequest(guard, String(cmd.url));
        return { ok: true, ...r };
      } catch (err) {
        return { ok: false, error: facts(err) };
      }
    }
    case 'connect': {
      try {
        await plainConnect(String(cmd.host), Number(cmd.port), guardFor(cmd as { resolver?: string }));
        return { ok: true };
      } catch (err) {
        return { ok: false, error: facts(err) };
      }
    }
    case 'unguarded': {
      // The control: without the guard the trap is reached (so the traps can see a leak at all).
      const { localPort } = await plainConnect(String(cmd.host), Number(cmd.port));
      const deadline = Date.now() + 5_000;
      // Accepted connections arrive in order: once this one is seen, every earlier one was too.
      while (!hits.some((h) => h.remotePort === localPort)) {
        if (Date.now() > deadline) throw new Error(`the trap at ${cmd.host}:${cmd.port} never saw the control connection`);
        await new Promise((r) => setImmediate(r));
      }
      return { ok: true, localPort };
    }
    case 'traps':
      return { hits };
    default:
      throw new Error(`unknown op ${String(cmd.op)}`);
  }
}

const lines = createInterface({ input: process.stdin });
const reply = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
let started = false;
for await (const line of lines) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line) as Record<string, unknown>;
  if (!started) {
    const tls = cmd.tls as { certificate: string; privateKey: string; ca: string };
    ca = tls.ca;
    await trap(TRAP_ADDRESSES.metadata, AGENT_PORTS.http, 'metadata:http');
    await trap(TRAP_ADDRESSES.metadata, AGENT_PORTS.https, 'metadata:https');
    await trap(`${TRAP_ADDRESSES.linkLocal}%${TRAP_ADDRESSES.device}`, AGENT_PORTS.http, 'link-local:http');
    await trap('::', AGENT_PORTS.wildcardTrap, 'unspecified'); // 0.0.0.0 and :: connect to the local host
    for (const a of [TRAP_ADDRESSES.good, TRAP_ADDRESSES.good2]) {
      await listen(http.createServer(goodHandler(a)), a, AGENT_PORTS.http);
      await listen(https.createServer({ cert: tls.certificate, key: tls.privateKey }, goodHandler(a)), a, AGENT_PORTS.https);
    }
    started = true;
    reply({ ready: true });
    continue;
  }
  try {
    reply(await handle(cmd));
  } catch (err) {
    reply({ fatal: (err as Error).message });
  }
}
process.exit(0);
