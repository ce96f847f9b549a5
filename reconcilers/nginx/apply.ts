// One apply on one host: the whole Outrigger-managed configuration moves from the live generation to
// a new one, or stays where it was.
//
//   observe   hashes of every file under <configDir> (one command), the live generation, the state
//   write     only missing or changed files (hand edits are overwritten), keys and certificates
//             (0600) before the configurations that use them; new files in one archive
//   stage     a new generation index; `current` is switched to it by an atomic symlink rename
//   test      the host's full configuration (`nginx -t`); on failure the failing routes are found
//             and quarantined, their previous version (if any) kept, every other route applied
//   reload    a HUP to nginx's master where that is safe, else the host's reload command
//             (reload.ts); then verify: the status server must report the new generation and the
//             error log must show no emerg/alert/crit; otherwise `current` goes back to the last
//             good generation and nginx is reloaded again
//   collect   files Outrigger wrote that no live route uses any more (never anything else), and
//             live routes the caller calls orphaned (their ProxyRoute is gone: deleted while the
//             controller was down)
//
// Between the switch and the end of the test, `current` points at an untested generation; nginx
// only reads it on reload, which happens after a passing test, so the running server never sees it.
import { posix } from 'node:path';
import { OutriggerError, errorCode, errorMessage } from '../../controller/errors.ts';
import { assertRemotePath, commandChunks, writeNewFiles, type SshConnection } from '../ssh/index.ts';
import { isolateFailures, type TestOutcome } from './isolate.ts';
import { nginxMessage, routesNamed, severeLogLines, warningsFor } from './messages.ts';
import { accessLogPath, renderIndex, renderResolver, sha256, type RenderedFile, type RenderedFileKind, type RenderedRoute } from './render.ts';
import { reloadNginx, type ReloadResult } from './reload.ts';
import { commandFor, type NginxHostSettings } from './settings.ts';
import { parseState, serializeState, statePath, type HostState, type LiveRoute } from './state.ts';

export interface RouteIntent {
  /** The version to make live; absent: keep whatever is live for this key (a carried-over route). */
  rendered?: RenderedRoute;
  remove?: boolean;
}

export type RouteState = 'Applied' | 'Quarantined' | 'Conflict' | 'Failed' | 'Removed';

export interface RouteReport {
  state: RouteState;
  /** The hash live on the host for this route after the apply (absent: nothing live). */
  liveHash?: string;
  /** When the live version became live. */
  liveSince?: Date;
  /** nginx's message (Quarantined), the conflict (Conflict) or the host problem (Failed). */
  message?: string;
  warnings: string[];
}

export interface ApplyReport {
  generation: string | null;
  reloaded: boolean;
  reloadedAt?: Date;
  /** How nginx was told to reload (the last time, in this apply): a HUP to its master, or the reload command. */
  reloadedVia?: ReloadResult['via'];
  /** `nginx -t` runs in this apply (1 when nothing failed). */
  tests: number;
  filesWritten: number;
  filesRemoved: number;
  routes: Map<string, RouteReport>;
  /** Live routes taken off the host because the caller called them orphaned. */
  orphansRemoved: string[];
  hostError?: { code: string; message: string };
}

export interface ApplyContext {
  conn: SshConnection;
  settings: NginxHostSettings;
  signal?: AbortSignal;
  now?: () => Date;
  /** gid of settings.workerGroup, resolved by the caller once. */
  workerGid?: number;
  /** Verification waits at most this long for the new generation to answer. */
  verifyTimeoutMs?: number;
  /** How long the new generation must answer alone before the reload counts as done. */
  settleMs?: number;
  maxTests?: number;
  /**
   * A live route with no intent in this apply whose owner no longer exists: it is removed like a
   * route asked to be removed. Absent: every live route is carried over.
   */
  orphaned?: (key: string) => boolean;
}

interface Candidate {
  key: string;
  version: 'new' | 'live';
  serverNames: string[];
  ports: number[];
  hash: string;
  serverInclude: string;
  httpInclude?: string;
  files: Array<{ path: string; sha256: string; kind: string }>;
}

let generationCounter = 0;
function newGenerationId(now: Date): string {
  generationCounter = (generationCounter + 1) % 1_000_000;
  return `${now.getTime().toString(36)}-${generationCounter.toString(36)}-${process.pid.toString(36)}`;
}

function fromRendered(r: RenderedRoute): Candidate {
  return { key: r.key, version: 'new', serverNames: r.serverNames, ports: r.ports, hash: r.hash, serverInclude: r.serverInclude, ...(r.httpInclude ? { httpInclude: r.httpInclude } : {}), files: r.files.map((f) => ({ path: f.path, sha256: f.sha256, kind: f.kind })) };
}

function fromLive(key: string, r: LiveRoute): Candidate {
  return { key, version: 'live', serverNames: r.serverNames, ports: r.ports, hash: r.hash, serverInclude: r.serverInclude, ...(r.httpInclude ? { httpInclude: r.httpInclude } : {}), files: r.files };
}

/** How often verification asks the status server which generation answers. */
const VERIFY_POLL_MS = 30;

/** Files nginx reads secrets from: on disk before any configuration that names them. */
const SECRET_KINDS: ReadonlySet<string> = new Set(['key', 'certificate', 'htpasswd']);

function modeFor(kind: RenderedFileKind | string, workerGid: number | undefined): { mode: number; group?: number } {
  if (kind === 'key' || kind === 'certificate') return { mode: 0o600 };
  if (kind === 'htpasswd') return workerGid === undefined ? { mode: 0o644 } : { mode: 0o640, group: workerGid };
  return { mode: 0o644 };
}

/**
 * Server names are claimed per port: a route already live keeps its names; a new claim on a taken
 * name is a conflict (a route in one namespace can never take over another's host name).
 */
function resolveConflicts(candidates: Candidate[], state: HostState): { kept: Candidate[]; conflicts: Map<string, string> } {
  const claims = new Map<string, string>();
  const conflicts = new Map<string, string>();
  const holdsLive = (c: Candidate, claim: string) => {
    const live = state.routes[c.key];
    return live ? live.ports.some((p) => live.serverNames.some((n) => `${p} ${n}` === claim)) : false;
  };
  const claimsOf = (c: Candidate) => c.ports.flatMap((p) => c.serverNames.map((n) => `${p} ${n}`));
  // Live holders first, then by key: the outcome does not depend on submission order.
  const ordered = [...candidates].sort((a, b) => {
    const al = claimsOf(a).some((x) => holdsLive(a, x)) ? 0 : 1;
    const bl = claimsOf(b).some((x) => holdsLive(b, x)) ? 0 : 1;
    return al - bl || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  });
  const kept: Candidate[] = [];
  for (const c of ordered) {
    const taken = claimsOf(c).filter((x) => claims.has(x) && claims.get(x) !== c.key);
    if (taken.length > 0) {
      const [port, name] = taken[0]!.split(' ');
      const owner = claims.get(taken[0]!)!.replace('_', '/');
      conflicts.set(c.key, `server name ${name} on port ${port} is already served by ProxyRoute ${owner}; each name may belong to one ProxyRoute per host`);
      continue;
    }
    for (const x of claimsOf(c)) claims.set(x, c.key);
    kept.push(c);
  }
  return { kept: kept.sort((a, b) => (a.key < b.key ? -1 : 1)), conflicts };
}

async function pooled<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}

/** The host's DNS servers from resolv.conf (only valid IP literals survive rendering). */
function parseResolvConf(text: string | null): string[] {
  if (!text) return [];
  return text.split('\n').map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter((x): x is string => !!x).slice(0, 3);
}

/** Reads the generation the status server reports, or null when it does not answer. */
async function liveGeneration(conn: SshConnection, port: number, signal: AbortSignal | undefined): Promise<string | null> {
  let channel;
  try {
    channel = await conn.forwardOut('127.0.0.1', port, { timeoutMs: 3_000, ...(signal ? { signal } : {}) });
  } catch (err) {
    if (errorCode(err) === 'SshConnectionLost') return null; // refused: nothing listens (yet)
    throw err;
  }
  const ch = channel;
  const response = await new Promise<string>((resolve, reject) => {
    let data = '';
    const timer = setTimeout(() => { ch.close(); reject(new OutriggerError('NginxVerifyFailed', 'the status server did not answer within 3 s')); }, 3_000);
    ch.on('data', (d: Buffer) => { data += d.toString('utf8'); if (data.length > 65_536) ch.close(); });
    ch.on('close', () => { clearTimeout(timer); resolve(data); });
    ch.on('error', (e: Error) => { clearTimeout(timer); reject(e); });
    ch.end('GET /outrigger/generation HTTP/1.0\r\nHost: outrigger-status\r\n\r\n');
  });
  const m = /^HTTP\/1\.[01] 200[^\n]*\r?\n[\s\S]*?\r?\n\r?\n([a-z0-9-]+)\s*$/.exec(response);
  return m ? m[1]! : null;
}

export async function applyHost(ctx: ApplyContext, intents: ReadonlyMap<string, RouteIntent>): Promise<ApplyReport> {
  const { conn, settings } = ctx;
  const now = ctx.now ?? (() => new Date());
  const op = ctx.signal ? { signal: ctx.signal } : {};
  const dir = settings.configDir;
  const report: ApplyReport = { generation: null, reloaded: false, tests: 0, filesWritten: 0, filesRemoved: 0, routes: new Map(), orphansRemoved: [] };

  // ---- observe ----
  const state = parseState((await conn.files.readFile(statePath(dir), op))?.toString('utf8') ?? null, dir);
  const resolvers = parseResolvConf((await conn.files.readFile(settings.resolvConf, op))?.toString('utf8') ?? null);
  const listing = await conn.exec(['find', dir, '-type', 'f', '-exec', 'sha256sum', '--', '{}', '+'], { timeoutMs: 60_000, ...op });
  const onDisk = new Map<string, string>();
  for (const line of listing.stdout.split('\n')) {
    const m = /^([0-9a-f]{64}) [ *](\/.*)$/.exec(line);
    if (m) onDisk.set(m[2]!, m[1]!);
  }
  const currentLink = await conn.files.readlink(posix.join(dir, 'current'), op);

  // ---- desired ----
  const rendered = new Map<string, RenderedRoute>();
  const candidates: Candidate[] = [];
  const keys = new Set([...Object.keys(state.routes), ...intents.keys()]);
  for (const key of [...keys].sort()) {
    const intent = intents.get(key);
    if (intent?.remove) continue;
    if (!intent && ctx.orphaned?.(key)) {
      report.orphansRemoved.push(key);
      continue;
    }
    if (intent?.rendered) {
      rendered.set(key, intent.rendered);
      candidates.push(fromRendered(intent.rendered));
    } else if (state.routes[key]) {
      candidates.push(fromLive(key, state.routes[key]));
    }
  }
  const { kept, conflicts } = resolveConflicts(candidates, state);
  // A conflicting new version leaves the live version (if any) in place.
  for (const key of conflicts.keys()) {
    const live = state.routes[key];
    if (live && !kept.some((c) => c.key === key)) kept.push(fromLive(key, live));
  }
  kept.sort((a, b) => (a.key < b.key ? -1 : 1));
  if (state.current === null && state.owned.length === 0 && kept.length === 0) {
    // Nothing was ever live here and nothing is wanted (a host checked for leftovers): the host
    // is left exactly as it was, without so much as a directory or a reload.
    for (const [key, intent] of intents) if (intent.remove) report.routes.set(key, { state: 'Removed', warnings: [] });
    return report;
  }
  await conn.files.mkdirp(posix.join(dir, 'routes'), op);
  await conn.files.mkdirp(posix.join(dir, 'generations'), op);
  // Every route's access log (nginx opens it at test and reload; an Alert's errorRate reads it).
  await conn.files.mkdirp(posix.join(dir, 'logs'), { mode: 0o755, ...op });

  // ---- write ----
  const toWrite: RenderedFile[] = [];
  const seen = new Set<string>();
  for (const c of kept) {
    const r = c.version === 'new' ? rendered.get(c.key) : undefined;
    if (!r) continue;
    for (const f of r.files) {
      if (seen.has(f.path) || onDisk.get(f.path) === f.sha256) continue;
      seen.add(f.path);
      toWrite.push(f);
    }
  }
  if (toWrite.length > 0) {
    // Record ownership before writing, so a crash mid-apply leaves nothing we would not collect.
    state.owned = [...new Set([...state.owned, ...toWrite.map((f) => f.path)])];
    await conn.files.writeFileAtomic(statePath(dir), serializeState(state), { mode: 0o600, ...op });
    // Every new version has new paths (file names carry their content hash), and those go to the
    // host in one archive; tar makes their directories. A path that exists (a hand edit being
    // undone) is replaced atomically on its own, as is a file that needs a group; their missing
    // directories are made in one command. Secrets are on disk before the configurations.
    const oneByOne = (f: RenderedFile) => onDisk.has(f.path) || modeFor(f.kind, ctx.workerGid).group !== undefined;
    const existing = new Set([...onDisk.keys()].map((f) => posix.dirname(f)));
    const missingDirs = [...new Set(toWrite.filter(oneByOne).map((f) => posix.dirname(f.path)))].filter((d) => !existing.has(d)).sort();
    for (const d of missingDirs) assertRemotePath(d);
    for (const argv of commandChunks(['mkdir', '-p', '-m', '0755', '--'], missingDirs)) await conn.run(argv, { timeoutMs: 60_000, ...op });
    const writeOne = (f: RenderedFile) => conn.files.writeFileAtomic(f.path, f.content, { ...modeFor(f.kind, ctx.workerGid), ...op });
    const isSecret = (f: RenderedFile) => SECRET_KINDS.has(f.kind);
    await pooled(toWrite.filter((f) => oneByOne(f) && isSecret(f)), 32, writeOne);
    const bulk = toWrite.filter((f) => !oneByOne(f)).sort((a, b) => Number(isSecret(b)) - Number(isSecret(a)));
    await writeNewFiles(conn, dir, bulk.map((f) => ({ path: f.path, content: f.content, mode: modeFor(f.kind, ctx.workerGid).mode })), op);
    await pooled(toWrite.filter((f) => oneByOne(f) && !isSecret(f)), 32, writeOne);
    report.filesWritten = toWrite.length;
  }

  // ---- stage and test ----
  const resolverText = renderResolver(resolvers);
  const indexFor = (set: Candidate[], generation: string) => renderIndex({
    generation,
    httpIncludes: set.flatMap((c) => (c.httpInclude ? [c.httpInclude] : [])),
    serverIncludes: set.map((c) => c.serverInclude),
    statusPort: settings.statusPort,
  });
  const liveGen = state.current;
  const unchanged = toWrite.length === 0 && liveGen !== null && currentLink === `generations/${liveGen}` &&
    onDisk.get(posix.join(dir, 'generations', liveGen, 'outrigger.conf')) === sha256(indexFor(kept, liveGen)) &&
    onDisk.get(posix.join(dir, 'generations', liveGen, 'resolver.inc')) === sha256(resolverText);
  const finish = (finalSet: Candidate[], bad: Map<string, string>, reloadedAt: Date | undefined, warningsText: string) => {
    for (const c of finalSet) {
      const live = state.routes[c.key];
      const since = live && live.hash === c.hash ? new Date(live.appliedAt) : reloadedAt ?? now();
      const reason = bad.get(c.key) ?? conflicts.get(c.key);
      report.routes.set(c.key, {
        state: reason === undefined ? 'Applied' : conflicts.has(c.key) ? 'Conflict' : 'Quarantined',
        liveHash: c.hash,
        liveSince: since,
        ...(reason !== undefined ? { message: reason } : {}),
        warnings: warningsFor(warningsText, c.serverNames),
      });
    }
    for (const key of [...bad.keys(), ...conflicts.keys()]) {
      if (report.routes.has(key)) continue;
      const reason = bad.get(key) ?? conflicts.get(key)!;
      report.routes.set(key, { state: conflicts.has(key) ? 'Conflict' : 'Quarantined', message: reason, warnings: [] });
    }
    for (const [key, intent] of intents) if (intent.remove) report.routes.set(key, { state: 'Removed', warnings: [] });
  };
  if (unchanged) {
    report.generation = liveGen;
    finish(kept, new Map(), undefined, '');
    return report;
  }

  const owned = new Set(state.owned);
  /** The live generation, intact on disk, is exactly this set: loading it again would change nothing. */
  const sameAsLive = (set: Candidate[]): boolean => {
    if (liveGen === null || set.length !== Object.keys(state.routes).length || !set.every((c) => state.routes[c.key]?.hash === c.hash)) return false;
    const liveDir = posix.join(dir, 'generations', liveGen);
    if (onDisk.get(posix.join(liveDir, 'outrigger.conf')) !== sha256(indexFor(set, liveGen)) || onDisk.get(posix.join(liveDir, 'resolver.inc')) !== sha256(resolverText)) return false;
    // A live route's file rewritten in this apply (a hand edit undone) still needs the reload.
    const paths = new Set(set.flatMap((c) => c.files.map((f) => f.path)));
    return !toWrite.some((f) => paths.has(f.path));
  };
  const stage = async (set: Candidate[]): Promise<{ generation: string; outcome: TestOutcome }> => {
    const generation = newGenerationId(now());
    const genDir = posix.join(dir, 'generations', generation);
    await conn.files.mkdirp(genDir, { mode: 0o755, ...op });
    const index = posix.join(genDir, 'outrigger.conf');
    const resolver = posix.join(genDir, 'resolver.inc');
    owned.add(index);
    owned.add(resolver);
    state.owned = [...owned];
    await conn.files.writeFileAtomic(statePath(dir), serializeState(state), { mode: 0o600, ...op });
    await conn.files.writeFileAtomic(resolver, resolverText, { mode: 0o644, ...op });
    await conn.files.writeFileAtomic(index, indexFor(set, generation), { mode: 0o644, ...op });
    await conn.files.symlinkAtomic(`generations/${generation}`, posix.join(dir, 'current'), op);
    const r = await conn.exec(commandFor(settings, 'test'), { timeoutMs: 120_000, ...op });
    report.tests++;
    return { generation, outcome: { ok: r.code === 0, message: `${r.stderr}\n${r.stdout}`.trim() } };
  };
  const restoreLink = async () => {
    if (liveGen) await conn.files.symlinkAtomic(`generations/${liveGen}`, posix.join(dir, 'current'), op);
    else await conn.files.unlink(posix.join(dir, 'current'), op);
  };

  let finalSet = kept;
  let staged = await stage(finalSet);
  const bad = new Map<string, string>();
  if (!staged.outcome.ok) {
    const maxTests = ctx.maxTests ?? 2 * kept.length + 8;
    const iso = await isolateFailures(kept, staged.outcome, {
      key: (c) => c.key,
      test: async (set) => (await stage(set)).outcome,
      named: (m) => routesNamed(m, dir),
      maxTests,
    });
    if (iso.baseFailure !== undefined) {
      await restoreLink();
      const message = `nginx rejects the host's configuration even without Outrigger's routes, so nothing was changed: ${nginxMessage(iso.baseFailure)}`;
      report.hostError = { code: 'NginxConfigBroken', message };
      for (const c of kept) if (c.version === 'new') report.routes.set(c.key, { state: 'Failed', ...(state.routes[c.key] ? { liveHash: state.routes[c.key]!.hash } : {}), message, warnings: [] });
      return report;
    }
    for (const [k, m] of iso.bad) bad.set(k, nginxMessage(m));
    // A quarantined new version falls back to the version that was live before, if it still passes.
    const fallbacks = [...iso.bad.keys()].flatMap((k) => {
      const live = state.routes[k];
      return live && live.hash !== kept.find((c) => c.key === k)?.hash ? [fromLive(k, live)] : [];
    });
    finalSet = iso.good;
    if (fallbacks.length > 0) {
      const withFallbacks = [...iso.good, ...fallbacks].sort((a, b) => (a.key < b.key ? -1 : 1));
      const t = await stage(withFallbacks);
      if (t.outcome.ok) finalSet = withFallbacks;
    }
    if (sameAsLive(finalSet)) {
      // Only rejected versions were new (a quarantine retried, failing again): what is live stays
      // live, and nginx is not reloaded for nothing.
      await restoreLink();
      report.generation = liveGen;
      finish(finalSet, bad, undefined, '');
      return report;
    }
    staged = await stage(finalSet);
    if (!staged.outcome.ok) {
      await restoreLink();
      const message = `nginx -t gave different answers for the same configuration; nothing was changed: ${nginxMessage(staged.outcome.message)}`;
      report.hostError = { code: 'NginxConfigUnstable', message };
      for (const c of kept) if (c.version === 'new') report.routes.set(c.key, { state: 'Failed', message, warnings: [] });
      return report;
    }
  }

  // ---- reload and verify ----
  const commit = async (generation: string, finalSet: Candidate[], reloadedAt: Date): Promise<void> => {
    const next: HostState = { version: 1, current: generation, lastReloadAt: reloadedAt.toISOString(), routes: {}, owned: [] };
    for (const c of finalSet) {
      const live = state.routes[c.key];
      next.routes[c.key] = {
        hash: c.hash, serverNames: c.serverNames, ports: c.ports, files: c.files, serverInclude: c.serverInclude,
        ...(c.httpInclude ? { httpInclude: c.httpInclude } : {}),
        appliedAt: live && live.hash === c.hash ? live.appliedAt : reloadedAt.toISOString(),
      };
    }
    const referenced = new Set<string>([
      ...finalSet.flatMap((c) => c.files.map((f) => f.path)),
      posix.join(dir, 'generations', generation, 'outrigger.conf'),
      posix.join(dir, 'generations', generation, 'resolver.inc'),
    ]);
    const garbage = [...owned].filter((p) => !referenced.has(p));
    next.owned = [...owned].filter((p) => referenced.has(p));
    await conn.files.writeFileAtomic(statePath(dir), serializeState(next), { mode: 0o600, ...op });
    await pooled(garbage, 32, async (p) => { if (await conn.files.unlink(p, op)) report.filesRemoved++; });
    // A route that left the host takes its access log with it (nginx let go of it at the reload).
    const gone = Object.keys(state.routes).filter((key) => !finalSet.some((c) => c.key === key));
    await pooled(gone, 16, (key) => conn.files.unlink(accessLogPath(dir, key), op).then(() => undefined));
    // Directories only go when empty: a file someone else put there keeps its directory.
    const emptied = [...new Set(garbage.map((p) => posix.dirname(p)))].filter((d) => ![...referenced].some((r) => r.startsWith(`${d}/`)));
    await pooled(emptied, 16, (d) => conn.files.rmdir(d, op).catch(() => {}));
    report.generation = generation;
    report.reloaded = true;
    report.reloadedAt = reloadedAt;
  };

  const logStart = (await conn.files.lstat(settings.errorLogFile, op))?.size ?? 0;
  const reloadFailure = await reloadAndVerify(ctx, report, staged.generation, logStart, true);
  if (!reloadFailure) {
    const reloadedAt = now();
    finish(finalSet, bad, reloadedAt, staged.outcome.message);
    await commit(staged.generation, finalSet, reloadedAt);
    return report;
  }

  // The last good set goes back under a new generation id: when the status server reports it, nginx
  // has finished with the failed reload (a failed bind retries for seconds) and loaded the good one.
  const liveSet = Object.entries(state.routes).map(([k, r]) => fromLive(k, r)).sort((a, b) => (a.key < b.key ? -1 : 1));
  let restored: string;
  try {
    const back = await stage(liveSet);
    if (!back.outcome.ok) {
      await restoreLink();
      restored = `the last good configuration no longer passes nginx -t either (${nginxMessage(back.outcome.message)})`;
    } else {
      const again = await reloadAndVerify(ctx, report, back.generation, 0, false);
      if (again) {
        restored = `restoring the last good configuration also failed: ${again}`;
      } else {
        restored = 'the last good configuration is live again';
        await commit(back.generation, liveSet, now());
      }
    }
  } catch (err) {
    restored = `restoring the last good configuration failed: ${errorMessage(err)}`;
  }
  const message = `nginx did not take the new configuration (${reloadFailure}); ${restored}`;
  report.hostError = { code: 'NginxReloadFailed', message };
  for (const c of kept) {
    const live = state.routes[c.key];
    report.routes.set(c.key, c.version === 'new' && (!live || live.hash !== c.hash)
      ? { state: 'Failed', ...(live ? { liveHash: live.hash, liveSince: new Date(live.appliedAt) } : {}), message, warnings: [] }
      : { state: 'Applied', liveHash: c.hash, ...(live ? { liveSince: new Date(live.appliedAt) } : {}), warnings: [] });
  }
  for (const [key, intent] of intents) if (intent.remove && !state.routes[key]) report.routes.set(key, { state: 'Removed', warnings: [] });
  return report;
}

/** Reloads and waits until the status server reports `generation`; returns why not, or null. */
async function reloadAndVerify(ctx: ApplyContext, report: ApplyReport, generation: string, logStart: number, checkLog: boolean): Promise<string | null> {
  const { conn, settings } = ctx;
  const op = ctx.signal ? { signal: ctx.signal } : {};
  const r = await reloadNginx(conn, settings, op);
  report.reloadedVia = r.via;
  if (!r.ok) return `the reload command failed: ${nginxMessage(r.output ?? '')}`;
  const deadline = Date.now() + (ctx.verifyTimeoutMs ?? 15_000);
  // nginx's master starts the new workers, sleeps 100 ms, then tells the old ones to stop accepting
  // (ngx_master_process_cycle): the new generation must answer alone past that before the old one
  // can be called gone.
  const settleMs = ctx.settleMs ?? 150;
  let seen: string | null = null;
  let newSince: number | undefined;
  while (Date.now() < deadline) {
    if (checkLog) {
      const log = (await conn.files.readFrom(settings.errorLogFile, logStart, op))?.toString('utf8') ?? '';
      const severe = severeLogLines(log).map((l) => nginxMessage(l));
      if (severe.length > 0) return `the error log reports: ${severe.slice(0, 5).join(' | ')}`;
    }
    seen = await liveGeneration(conn, settings.statusPort, ctx.signal);
    if (seen === generation) {
      newSince ??= Date.now();
      if (Date.now() - newSince >= settleMs) return null;
    } else {
      newSince = undefined;
    }
    // Each poll is one request over the open connection: polling often costs little and saves the
    // time a growing backoff would add after a reload of many servers.
    await new Promise((resolve) => setTimeout(resolve, VERIFY_POLL_MS));
  }
  return seen === null
    ? `nothing answered on 127.0.0.1:${settings.statusPort}; check that nginx runs and its http block includes ${settings.configDir}/current/*.conf`
    : `nginx still serves generation ${seen}, not ${generation}`;
}
