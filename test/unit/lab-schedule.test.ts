// When a Lab runs: spec.state, daily stop/start in a time zone across daylight saving time, the
// start annotation of stop-only schedules, and expiry from ttl or expiresAt, with time passed in.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { START_ANNOTATION, scheduleState, type ScheduledLab } from '../../reconcilers/lab/schedule.ts';

const at = (iso: string) => Date.parse(iso);
const lab = (schedule: Record<string, unknown> | undefined, extra: Partial<ScheduledLab['metadata']> = {}, state: 'Running' | 'Stopped' = 'Running'): ScheduledLab => ({
  spec: { state, ...(schedule ? { schedule: { timeZone: 'UTC', expiryAction: 'Delete', ...schedule } } : {}) } as ScheduledLab['spec'],
  metadata: { creationTimestamp: '2026-03-01T00:00:00Z', ...extra },
});

describe('Lab schedule', () => {
  const berlin = lab({ dailyStop: '19:00', dailyStart: '07:30', timeZone: 'Europe/Berlin' });

  const cases: Array<[string, string, boolean, string | undefined]> = [
    // [what, now, running, next action time]
    ['inside the hours in winter (CET, UTC+1)', '2026-03-27T10:00:00Z', true, '2026-03-27T18:00:00.000Z'],
    ['after the stop in winter', '2026-03-27T18:30:00Z', false, '2026-03-28T06:30:00.000Z'],
    ['the night the clocks go forward: starts at 07:30 CEST, which is 05:30 UTC', '2026-03-29T03:00:00Z', false, '2026-03-29T05:30:00.000Z'],
    ['the first summer evening stops at 17:00 UTC', '2026-03-29T12:00:00Z', true, '2026-03-29T17:00:00.000Z'],
    ['the night the clocks go back: starts at 07:30 CET again, 06:30 UTC', '2026-10-25T04:00:00Z', false, '2026-10-25T06:30:00.000Z'],
    ['exactly at the stop: stopped', '2026-03-27T18:00:00Z', false, '2026-03-28T06:30:00.000Z'],
  ];
  for (const [what, now, running, next] of cases) {
    it(what, () => {
      const s = scheduleState(berlin, at(now));
      assert.equal(s.running, running, s.reason);
      assert.equal(s.nextAction?.time.toISOString(), next);
      assert.equal(s.nextAction?.action, running ? 'Stop' : 'Start');
    });
  }

  it('says why, in the zone\'s terms', () => {
    assert.equal(scheduleState(berlin, at('2026-03-27T18:30:00Z')).reason, 'Stopped by the daily schedule at 19:00 Europe/Berlin; starts again at 2026-03-28T06:30:00Z');
  });

  it('spec.state Stopped wins over the hours', () => {
    const s = scheduleState(lab({ dailyStop: '19:00', dailyStart: '07:30', timeZone: 'Europe/Berlin' }, {}, 'Stopped'), at('2026-03-27T10:00:00Z'));
    assert.equal(s.running, false);
    assert.equal(s.reason, 'Stopped: spec.state is Stopped');
  });

  it('a stop-only schedule stays stopped until the start annotation is set after the stop', () => {
    const stopOnly = (annotations?: Record<string, string>) => lab({ dailyStop: '18:00' }, { creationTimestamp: '2026-03-27T10:00:00Z', ...(annotations ? { annotations } : {}) });
    assert.equal(scheduleState(stopOnly(), at('2026-03-27T17:00:00Z')).running, true, 'before its first stop');
    assert.equal(scheduleState(stopOnly(), at('2026-03-27T19:00:00Z')).running, false);
    assert.match(scheduleState(stopOnly(), at('2026-03-27T19:00:00Z')).reason, new RegExp(START_ANNOTATION));
    assert.equal(scheduleState(stopOnly({ [START_ANNOTATION]: '2026-03-27T18:30:00Z' }), at('2026-03-27T19:00:00Z')).running, true);
    assert.equal(scheduleState(stopOnly({ [START_ANNOTATION]: '2026-03-27T18:30:00Z' }), at('2026-03-28T19:00:00Z')).running, false, 'the next day\'s stop counts again');
  });

  it('a Lab made after today\'s stop of a stop-only schedule runs until the next one', () => {
    const s = scheduleState(lab({ dailyStop: '18:00' }, { creationTimestamp: '2026-03-27T20:00:00Z' }), at('2026-03-27T21:00:00Z'));
    assert.equal(s.running, true);
    assert.equal(s.nextAction?.time.toISOString(), '2026-03-28T18:00:00.000Z');
  });

  it('ttl counts from creation; at expiry the Lab is expired whatever the hours say', () => {
    const l = lab({ ttl: '7d', dailyStop: '19:00', dailyStart: '07:30' });
    const before = scheduleState(l, at('2026-03-07T23:59:00Z'));
    assert.equal(before.expired, false);
    assert.equal(before.expiresAt?.toISOString(), '2026-03-08T00:00:00.000Z');
    assert.equal(before.nextAction?.action, 'Expire', 'expiry is sooner than the next start');
    const after = scheduleState(l, at('2026-03-08T00:00:00Z'));
    assert.equal(after.expired, true);
    assert.equal(after.running, false);
    assert.match(after.reason, /Expired at 2026-03-08T00:00:00Z: its machines were removed \(expiryAction Delete\)/);
  });

  it('expiresAt with expiryAction Stop', () => {
    const s = scheduleState(lab({ expiresAt: '2026-04-01T12:00:00Z', expiryAction: 'Stop' }), at('2026-04-02T00:00:00Z'));
    assert.equal(s.expired, true);
    assert.match(s.reason, /stopped \(expiryAction Stop\)/);
  });

  it('no schedule: running, nothing planned', () => {
    const s = scheduleState(lab(undefined), at('2026-04-02T00:00:00Z'));
    assert.equal(s.running, true);
    assert.equal(s.nextAction, undefined);
  });
});
