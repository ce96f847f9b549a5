// One conformance suite, two servers: every scenario runs against the embedded API server and
// against the real kube-apiserver (the control-plane fixture) and must observe the same thing —
// status codes, error reasons and messages, watch events, generation and resourceVersion rules,
// the finalizer flow, kubectl's output. A difference is a bug in the embedded server. Each
// scenario's own expectations are checked against kube-apiserver too, so the suite tests itself.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { controlPlaneSkipReason, createNamespace, kubeApiserverTarget, kubectlSkipReason, startEmbeddedTarget, type ApiTarget } from './embedded-target.ts';
import { kubectlScenarios, scenarios } from './embedded-scenarios.ts';

describe('conformance: embedded API server vs kube-apiserver', { skip: controlPlaneSkipReason() }, () => {
  let embedded: ApiTarget;
  let real: ApiTarget;
  before(async () => {
    [embedded, real] = await Promise.all([startEmbeddedTarget(), kubeApiserverTarget()]);
  });
  after(async () => {
    await Promise.all([embedded?.stop(), real?.stop()]);
  });

  for (const s of [...scenarios, ...kubectlScenarios]) {
    it(s.name, { skip: s.kubectl ? kubectlSkipReason() : undefined }, async () => {
      const [nsReal, nsEmbedded] = await Promise.all([createNamespace(real, 'conf'), createNamespace(embedded, 'conf')]);
      const onReal = await s.run(real, nsReal);
      const onEmbedded = await s.run(embedded, nsEmbedded);
      s.check(onReal);
      assert.deepStrictEqual(onEmbedded, onReal, 'the embedded API server must behave like kube-apiserver');
    });
  }
});
