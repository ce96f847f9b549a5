// The Host reconciler's pure parts: parsing what a probe reads, and the status a probe leads to
// (conditions, facts kept while unreachable, lastProbeTime not rewritten on every quiet probe).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCpus, parseMemTotal, parseNginxVersion, parseOsRelease, parseUname } from '../../reconcilers/host/facts.ts';
import { hostStatus } from '../../reconcilers/host/status.ts';
import type { ProbeResult } from '../../reconcilers/host/probe.ts';

describe('Host facts parsers', () => {
  it('reads PRETTY_NAME from os-release, quoted or not, and nothing unprintable', () => {
    assert.equal(parseOsRelease('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'), 'Debian GNU/Linux 12 (bookworm)');
    assert.equal(parseOsRelease("PRETTY_NAME='Alpine Linux v3.20'"), 'Alpine Linux v3.20');
    assert.equal(parseOsRelease('NAME=Fedora\nVERSION="40 (Server Edition)"'), 'Fedora 40 (Server Edition)', 'NAME VERSION without PRETTY_NAME');
    assert.equal(parseOsRelease('PRETTY_NAME="x\u0007y"'), 'xy');
    assert.equal(parseOsRelease('garbage'), undefined);
  });

  it('reads uname -r -m, nproc, MemTotal and nginx -v; unknown output gives nothing', () => {
    assert.deepEqual(parseUname('6.1.0-28-amd64 x86_64\n'), { kernel: '6.1.0-28-amd64', architecture: 'x86_64' });
    assert.deepEqual(parseUname('only-one'), {});
    assert.equal(parseCpus('8\n'), 8);
    assert.equal(parseCpus('zero'), undefined);
    assert.equal(parseMemTotal('MemTotal:       16318412 kB\nMemFree: 1 kB\n'), 16318412 * 1024);
    assert.equal(parseMemTotal('MemFree: 1 kB'), undefined);
    assert.equal(parseNginxVersion('nginx version: nginx/1.22.1\n'), '1.22.1');
    assert.equal(parseNginxVersion('nginx version: openresty/1.25.3.1'), '1.25.3.1');
    assert.equal(parseNginxVersion('bash: nginx: command not found'), undefined);
  });
});

describe('Host status from a probe', () => {
  const shape = { ssh: true, docker: false, nginx: true };
  const t0 = new Date('2030-01-01T00:00:00Z');
  const ok: ProbeResult = { reachable: true, hostKeyFingerprint: 'SHA256:abc', facts: { os: 'Debian GNU/Linux 12 (bookworm)', nginxVersion: '1.22.1' }, problems: [] };
  const down: ProbeResult = { reachable: false, hostKeyFingerprint: 'SHA256:abc', facts: {}, problems: [{ code: 'Unreachable', message: 'cannot reach root@10.0.0.1:22: ECONNREFUSED' }] };
  const opts = (now: Date) => ({ now, generation: 2, probeRecordIntervalMs: 600_000 });
  const ready = (s: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> }) => s.conditions?.find((c) => c.type === 'Ready');

  it('a good probe: Ready=True naming the key and nginx version, facts, reachable, lastProbeTime', () => {
    const s = hostStatus(undefined, ok, shape, opts(t0));
    assert.equal(ready(s)?.status, 'True');
    assert.match(ready(s)?.message ?? '', /SHA256:abc; nginx 1\.22\.1/);
    assert.equal(s.reachable, true);
    assert.equal(s.facts?.nginxVersion, '1.22.1');
    assert.equal(s.lastProbeTime, '2030-01-01T00:00:00Z');
    assert.equal(s.observedGeneration, 2);
  });

  it('the same probe a minute later writes nothing new; ten minutes later only lastProbeTime moves', () => {
    const first = hostStatus(undefined, ok, shape, opts(t0));
    assert.deepEqual(hostStatus(first, ok, shape, opts(new Date(t0.getTime() + 60_000))), first);
    const later = hostStatus(first, ok, shape, opts(new Date(t0.getTime() + 600_000)));
    assert.equal(later.lastProbeTime, '2030-01-01T00:10:00Z');
    assert.deepEqual({ ...later, lastProbeTime: first.lastProbeTime }, first);
  });

  it('unreachable: Ready=False with the reason, reachable=false, the last known facts kept', () => {
    const first = hostStatus(undefined, ok, shape, opts(t0));
    const s = hostStatus(first, down, shape, opts(new Date(t0.getTime() + 60_000)));
    assert.equal(ready(s)?.status, 'False');
    assert.equal(ready(s)?.reason, 'Unreachable');
    assert.equal(s.reachable, false);
    assert.equal(s.facts?.os, 'Debian GNU/Linux 12 (bookworm)');
    assert.equal(s.lastProbeTime, '2030-01-01T00:01:00Z', 'a change records the probe time');
    assert.equal(s.conditions?.find((c) => c.type === 'Synced')?.status, 'False');
  });

  it('several problems: the first gives the reason, all are in the message', () => {
    const s = hostStatus(undefined, { ...ok, problems: [{ code: 'NginxNotFound', message: 'nginx -v failed' }, { code: 'DockerUnreachable', message: 'Docker engine: refused' }] }, shape, opts(t0));
    assert.equal(ready(s)?.reason, 'NginxNotFound');
    assert.match(ready(s)?.message ?? '', /nginx -v failed; Docker engine: refused/);
  });
});
