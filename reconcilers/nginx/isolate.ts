// Finding the routes that make `nginx -t` fail, so they can be quarantined while every other route
// is applied. First the cheap way: nginx usually names the failing file, which lives in the route's
// own directory. When it does not (or names something else), the candidates are grown in halves
// onto a known-good base: O(k log n) tests for k bad routes among n, and routes that only fail in
// combination are still caught by the test that adds them.

export interface TestOutcome {
  ok: boolean;
  /** nginx's output (for the culprit's status message). */
  message: string;
}

export interface IsolationResult<T> {
  /** The candidates that pass together with the base (in their original order). */
  good: T[];
  /** Quarantined candidate keys with the nginx message that condemned each. */
  bad: Map<string, string>;
  /** Set when even the base alone fails: the host's configuration is broken without these routes. */
  baseFailure?: string;
  tests: number;
}

export interface IsolationOptions<T> {
  key(candidate: T): string;
  /** Tests base + these candidates as one configuration. */
  test(candidates: T[]): Promise<TestOutcome>;
  /** Candidate keys a failing output names. */
  named(message: string): string[];
  /** Hard cap on the number of tests (each is a full `nginx -t`). */
  maxTests: number;
}

export async function isolateFailures<T>(candidates: readonly T[], firstFailure: TestOutcome, opts: IsolationOptions<T>): Promise<IsolationResult<T>> {
  const bad = new Map<string, string>();
  let tests = 0;
  let set = [...candidates];
  let outcome = firstFailure;

  // 1. Follow nginx's own pointers while they lead to candidates.
  while (!outcome.ok && tests < opts.maxTests) {
    const keys = new Set(set.map(opts.key));
    const named = opts.named(outcome.message).filter((k) => keys.has(k));
    if (named.length === 0) break;
    for (const k of named) bad.set(k, outcome.message);
    set = set.filter((c) => !named.includes(opts.key(c)));
    outcome = await opts.test(set);
    tests++;
  }
  if (outcome.ok) return { good: set, bad, tests };

  // 2. Nothing named: is the base itself broken?
  const base = await opts.test([]);
  tests++;
  if (!base.ok) return { good: [], bad, baseFailure: base.message, tests };

  // 3. Grow a passing set chunk by chunk, splitting chunks that fail.
  const good: T[] = [];
  const grow = async (chunk: T[]): Promise<void> => {
    if (chunk.length === 0) return;
    if (tests >= opts.maxTests) {
      for (const c of chunk) bad.set(opts.key(c), 'not applied: too many failing routes on this host to isolate them in one apply; it is retried on the next change');
      return;
    }
    const r = await opts.test([...good, ...chunk]);
    tests++;
    if (r.ok) {
      good.push(...chunk);
      return;
    }
    if (chunk.length === 1) {
      bad.set(opts.key(chunk[0]!), r.message);
      return;
    }
    const mid = Math.ceil(chunk.length / 2);
    await grow(chunk.slice(0, mid));
    await grow(chunk.slice(mid));
  };
  await grow(set);
  const order = new Map(candidates.map((c, i) => [opts.key(c), i]));
  good.sort((a, b) => order.get(opts.key(a))! - order.get(opts.key(b))!);
  return { good, bad, tests };
}
