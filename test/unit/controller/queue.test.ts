import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../../controller/clock.ts';
import { WorkQueue } from '../../../controller/queue.ts';

describe('WorkQueue', () => {
  it('collapses duplicate adds of a waiting key into one', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('a');
    q.add('b');
    assert.equal(q.length, 2);
    assert.equal(await q.get(), 'a');
    assert.equal(await q.get(), 'b');
  });

  it('never hands out a key that is being processed; a key dirtied meanwhile comes back once after done', async () => {
    const q = new WorkQueue();
    q.add('a');
    const first = await q.get();
    assert.equal(first, 'a');
    for (let i = 0; i < 1000; i++) q.add('a');
    assert.equal(q.length, 0, 'the key is processing, so it must not be queued again yet');
    q.done('a');
    assert.equal(q.length, 1);
    assert.equal(await q.get(), 'a');
    q.done('a');
    assert.equal(q.length, 0);
  });

  it('retries with exact per-key delays of 5 ms x 2^n and resets on forget', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    const delays: number[] = [];
    for (let n = 0; n < 5; n++) {
      const before = clock.now();
      q.addRateLimited('a');
      // Advance 1 ms short of the expected delay: the key must not be there yet.
      const expected = 5 * 2 ** n;
      clock.advance(expected - 1);
      assert.equal(q.length, 0, `retry ${n} came early`);
      clock.advance(1);
      assert.equal(q.length, 1, `retry ${n} did not come after ${expected} ms`);
      delays.push(clock.now() - before);
      q.done((await q.get())!);
    }
    assert.deepEqual(delays, [5, 10, 20, 40, 80]);
    assert.equal(q.retries('a'), 5);
    q.forget('a');
    q.addRateLimited('a');
    clock.advance(5);
    assert.equal(q.length, 1, 'after forget the next retry starts at 5 ms again');
  });

  it('caps the retry delay at 1000 s', async () => {
    const clock = new FakeClock();
    const q2 = new WorkQueue({ clock });
    for (let i = 0; i < 25; i++) {
      q2.addRateLimited('a');
      clock.advance(1_000_000);
      q2.done((await q2.get())!);
    }
    q2.addRateLimited('a');
    clock.advance(999_999);
    assert.equal(q2.length, 0);
    clock.advance(1);
    assert.equal(q2.length, 1);
  });

  it('keeps the earliest of several delayed adds for one key', () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    q.addAfter('a', 1000);
    q.addAfter('a', 100);
    q.addAfter('a', 5000);
    clock.advance(100);
    assert.equal(q.length, 1);
    clock.advance(10_000);
    assert.equal(q.length, 1, 'the later delayed adds were superseded, not queued again');
  });

  it('stops handing out work on shutdown and waits for keys in flight', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    const key = await q.get();
    let drained = false;
    const shutdown = q.shutdown().then(() => { drained = true; });
    await new Promise((r) => setImmediate(r));
    assert.equal(drained, false, 'shutdown must wait for the key being processed');
    assert.equal(await q.get(), undefined, 'no new work after shutdown');
    q.done(key!);
    await shutdown;
    assert.equal(drained, true);
    const before = q.length;
    q.add('c');
    assert.equal(q.length, before, 'adds after shutdown are ignored');
  });

  it('wakes a waiting worker when a key arrives', async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.add('x');
    assert.equal(await waiting, 'x');
  });
});
