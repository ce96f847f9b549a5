// The host-side record of what Outrigger applied, kept in <configDir>/state.json (mode 0600): the
// live generation, each live route's files and hash, and every path Outrigger wrote. It lets a
// restarted controller carry over routes it has not re-rendered yet, and garbage collection touch
// only files Outrigger wrote.
import { posix } from 'node:path';
import { z } from 'zod';

const liveRouteSchema = z.object({
  hash: z.string(),
  serverNames: z.array(z.string()),
  ports: z.array(z.number()),
  files: z.array(z.object({ path: z.string(), sha256: z.string(), kind: z.string() })),
  serverInclude: z.string(),
  httpInclude: z.string().optional(),
  /** When this hash became live (the reload that carried it). */
  appliedAt: z.string(),
});

const stateSchema = z.object({
  version: z.literal(1),
  current: z.string().nullable(),
  lastReloadAt: z.string().nullable(),
  routes: z.record(z.string(), liveRouteSchema),
  owned: z.array(z.string()),
});

export type LiveRoute = z.infer<typeof liveRouteSchema>;
export type HostState = z.infer<typeof stateSchema>;

export function emptyState(): HostState {
  return { version: 1, current: null, lastReloadAt: null, routes: {}, owned: [] };
}

export function statePath(configDir: string): string {
  return posix.join(configDir, 'state.json');
}

/** Parses state.json; anything unreadable counts as no state (and then nothing is garbage-collected). */
export function parseState(text: string | null, configDir: string): HostState {
  if (text === null) return emptyState();
  try {
    const parsed = stateSchema.parse(JSON.parse(text));
    // Never trust a path outside our directory, whatever the file says.
    const inside = (p: string) => p.startsWith(`${configDir}/`) && !p.split('/').includes('..');
    return {
      ...parsed,
      owned: parsed.owned.filter(inside),
      routes: Object.fromEntries(Object.entries(parsed.routes).filter(([, r]) => r.files.every((f) => inside(f.path)) && inside(r.serverInclude))),
    };
  } catch {
    return emptyState();
  }
}

export function serializeState(state: HostState): string {
  const routes = Object.fromEntries(Object.entries(state.routes).sort(([a], [b]) => (a < b ? -1 : 1)));
  return `${JSON.stringify({ ...state, routes, owned: [...new Set(state.owned)].sort() }, null, 1)}\n`;
}
