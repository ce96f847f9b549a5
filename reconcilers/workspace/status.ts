// What a Workspace's status says, as pure functions of what the reconcile found (the facts): phase,
// endpoints, the docker block, and the kind's own conditions (Bootstrapped, Idle, HomeSizeApplied)
// plus better-worded Ready conditions for the states a workspace rests in.
import type { ConditionInput } from '../../controller/index.ts';
import type { ContainerStateName, Endpoint } from '../docker/index.ts';
import { IDLE_CONDITION, WAKE_ANNOTATION } from './idle.ts';

export const BOOTSTRAPPED_CONDITION = 'Bootstrapped';
export const HOME_SIZE_CONDITION = 'HomeSizeApplied';

export type Phase = 'Pending' | 'Creating' | 'Starting' | 'Running' | 'Stopping' | 'Stopped' | 'Failed' | 'Deleting';

export interface StatusEndpoint {
  name: string;
  protocol: 'TCP' | 'UDP';
  host?: string;
  port: number;
  url?: string;
}

export interface BootstrapStatus {
  state: 'Pending' | 'Succeeded' | 'Failed';
  completionTime?: string;
  message?: string;
}

/** What one reconcile learned about a workspace's Docker side. */
export interface WorkspaceFacts {
  exists: boolean;
  containerId?: string;
  containerName: string;
  volumeName: string;
  specHash: string;
  containerState?: ContainerStateName;
  running: boolean;
  /** What the controller wants: spec.state Running and not stopped for idleness. */
  desiredRunning: boolean;
  /** Set when the workspace rests stopped because of idleTimeout (ISO time of the stop). */
  idleStoppedAt?: string;
  idleTimeout?: string;
  lastActivity?: string;
  endpoints: StatusEndpoint[];
  bootstrapConfigured: boolean;
  bootstrap?: BootstrapStatus;
  homeSize?: string;
  /** spec.state is Stopped. */
  stoppedBySpec: boolean;
}

export function phaseOf(f: WorkspaceFacts): Phase {
  if (!f.exists) return 'Creating';
  if (f.bootstrap?.state === 'Failed' && f.desiredRunning) return 'Failed';
  if (f.running) return f.desiredRunning ? 'Running' : 'Stopping';
  return f.desiredRunning ? 'Starting' : 'Stopped';
}

/** The status fields besides conditions and observedGeneration. Stable for unchanged facts (no needless writes). */
export function statusFields(f: WorkspaceFacts): Record<string, unknown> {
  return {
    phase: phaseOf(f),
    ...(f.running ? { endpoints: f.endpoints } : {}),
    ...(f.lastActivity ? { lastActivity: f.lastActivity } : {}),
    ...(f.bootstrap ? { bootstrap: f.bootstrap } : {}),
    docker: {
      ...(f.containerId ? { containerId: f.containerId } : {}),
      containerName: f.containerName,
      volumeName: f.volumeName,
    },
    specHash: f.specHash,
  };
}

export function wakeHint(name: string): string {
  return `kubectl annotate workspace ${name} ${WAKE_ANNOTATION}=$(date -u +%Y-%m-%dT%H:%M:%SZ) --overwrite`;
}

/**
 * The kind's conditions. `ready` is the managed reconciler's verdict; when it holds, Ready gets a
 * message that says which resting state the workspace is in. Existing condition types are passed
 * so a condition that no longer applies is turned off rather than left stale.
 */
export function workspaceConditions(f: WorkspaceFacts, ready: boolean, name: string, existingTypes: readonly string[]): ConditionInput[] {
  const out: ConditionInput[] = [];
  if (ready) {
    if (f.running) {
      const where = f.endpoints.map((e) => `${e.name} ${e.host ?? ''}:${e.port}`).join(', ');
      out.push({ type: 'Ready', status: 'True', reason: 'Running', message: `The container is running${where ? `; endpoints: ${where}` : ''}` });
    } else if (f.idleStoppedAt) {
      out.push({ type: 'Ready', status: 'True', reason: 'IdleStopped', message: `Stopped after ${f.idleTimeout} without activity; the home is kept. Wake it with: ${wakeHint(name)}` });
    } else {
      out.push({ type: 'Ready', status: 'True', reason: 'Stopped', message: 'Stopped as spec.state asks; the home is kept' });
    }
  }

  if (f.idleStoppedAt) {
    out.push({
      type: IDLE_CONDITION,
      status: 'True',
      reason: 'IdleTimeout',
      message: `No activity for ${f.idleTimeout}${f.lastActivity ? ` (last at ${f.lastActivity})` : ''}: stopped. Change the spec or run ${wakeHint(name)} to start it again`,
    });
  } else if (f.idleTimeout && !f.stoppedBySpec) {
    out.push({ type: IDLE_CONDITION, status: 'False', reason: 'Active', message: `Stops after ${f.idleTimeout} without activity (see status.lastActivity)` });
  } else if (existingTypes.includes(IDLE_CONDITION)) {
    out.push({ type: IDLE_CONDITION, status: 'False', reason: f.stoppedBySpec ? 'Stopped' : 'NoIdleTimeout', message: f.stoppedBySpec ? 'spec.state is Stopped' : 'spec.idleTimeout is not set: the workspace never stops for idleness' });
  }

  if (f.bootstrapConfigured) {
    const b = f.bootstrap;
    if (b?.state === 'Succeeded') out.push({ type: BOOTSTRAPPED_CONDITION, status: 'True', reason: 'Succeeded', message: b.message ?? 'The bootstrap step succeeded' });
    else if (b?.state === 'Failed') {
      out.push({ type: BOOTSTRAPPED_CONDITION, status: 'False', reason: 'BootstrapFailed', message: b.message ?? 'The bootstrap step failed' });
      if (f.desiredRunning) {
        // Nothing retries by itself until the spec changes: stalled, not reconciling.
        out.push({ type: 'Reconciling', status: 'False', reason: 'BootstrapFailed', message: 'Waiting for the spec to change' });
        out.push({ type: 'Stalled', status: 'True', reason: 'BootstrapFailed', message: b.message ?? 'The bootstrap step failed' });
      }
    } else out.push({ type: BOOTSTRAPPED_CONDITION, status: 'Unknown', reason: 'Pending', message: 'The bootstrap step runs once the container is running' });
  }

  if (f.homeSize) {
    out.push({
      type: HOME_SIZE_CONDITION,
      status: 'False',
      reason: 'NotSupported',
      message: `spec.home.size (${f.homeSize}) is not applied on Docker: the home is a local volume without a size limit and can grow until the host's disk is full`,
    });
  } else if (existingTypes.includes(HOME_SIZE_CONDITION)) {
    out.push({ type: HOME_SIZE_CONDITION, status: 'True', reason: 'NotRequested', message: 'spec.home.size is not set' });
  }
  return out;
}

/** Where a published port is reached from outside, and a ready-made URL for ssh and the editor. */
export function statusEndpoints(
  endpoints: readonly Endpoint[],
  opts: { publishAddress?: string; hostAddress?: string; localEngine: boolean; user: string },
): StatusEndpoint[] {
  return endpoints.map((e) => {
    const host = reachableHost(e.hostIp, opts);
    const protocol = e.protocol === 'udp' ? 'UDP' : 'TCP';
    const bracketed = host && host.includes(':') ? `[${host}]` : host;
    let url: string | undefined;
    if (bracketed && protocol === 'TCP' && e.name === 'ssh') url = `ssh://${opts.user}@${bracketed}:${e.hostPort}`;
    if (bracketed && protocol === 'TCP' && e.name === 'editor') url = `http://${bracketed}:${e.hostPort}/`;
    return { name: e.name, protocol, ...(host ? { host } : {}), port: e.hostPort, ...(url ? { url } : {}) };
  });
}

const WILDCARDS = new Set(['', '0.0.0.0', '::', '[::]']);

function reachableHost(boundIp: string, opts: { publishAddress?: string; hostAddress?: string; localEngine: boolean }): string | undefined {
  if (opts.publishAddress && !WILDCARDS.has(opts.publishAddress)) return opts.publishAddress;
  if (opts.hostAddress) return opts.hostAddress;
  if (!WILDCARDS.has(boundIp)) return boundIp;
  return opts.localEngine ? '127.0.0.1' : undefined;
}
