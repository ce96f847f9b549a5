// The clock every timer-driven part of the runtime uses, so tests can drive time by hand.

export interface TimerHandle { cancel(): void }

export interface Clock {
  now(): number;
  setTimer(callback: () => void, delayMs: number): TimerHandle;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimer(callback, delayMs) {
    const timer = setTimeout(callback, Math.max(0, delayMs));
    timer.unref?.();
    return { cancel: () => clearTimeout(timer) };
  },
};

/** An AbortSignal that fires after `ms` on the given clock (AbortSignal.timeout, but testable). */
export function clockTimeout(clock: Clock, ms: number): AbortSignal {
  if (clock === realClock) return AbortSignal.timeout(Math.max(0, ms));
  const controller = new AbortController();
  clock.setTimer(() => controller.abort(new DOMException('The operation timed out.', 'TimeoutError')), ms);
  return controller.signal;
}

interface PendingTimer { at: number; seq: number; callback: () => void; cancelled: boolean }

/** A clock that only moves when a test calls `advance`. */
export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: PendingTimer[] = [];

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const timer: PendingTimer = { at: this.current + Math.max(0, delayMs), seq: this.seq++, callback, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => { timer.cancelled = true; } };
  }

  /** Moves time forward, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => !t.cancelled && t.at <= target)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.current = due.at;
      due.callback();
    }
    this.current = target;
    this.timers = this.timers.filter((t) => !t.cancelled);
  }

  pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
}
