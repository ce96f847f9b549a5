// CRD validation rules on create, side by side in one run: kube-apiserver (+etcd) and the
// embedded API server (its own process) each get a CRD whose spec carries 20
// x-kubernetes-validations rules (comparisons, regular expressions, list macros, quantities,
// URLs, IPs, formats) and the same CRD without rules; objects that pass every rule are created
// one at a time, alternating between the two. The rules' share of a create is the median of the
// paired differences.
import type { BenchScenario } from '../run.ts';
import { median, settle } from '../measure.ts';
import { createNamespace, kubeApiserverTarget, type ApiTarget } from '../../test/integration/embedded-target.ts';
import { embeddedProcess } from './embedded-vs-kube-apiserver.ts';

const COUNT = Number(process.env.CEL_BENCH_COUNT ?? 300);
const ROUNDS = 3;
const GROUP = 'celbench.outrigger.dev';

const RULES = [
  'self.replicas >= self.minReplicas',
  'self.replicas <= 100',
  "self.name.matches('^[a-z][a-z0-9-]*$')",
  '!format.dns1123Label().validate(self.name).hasValue()',
  "self.image.startsWith('registry.example/')",
  "self.image.findAll(':').size() <= 1",
  'self.ports.isSorted()',
  'self.ports.all(p, p > 0 && p < 65536)',
  'self.ports.exists_one(p, p == 443)',
  'self.ports.sum() < 200000',
  "quantity(self.memory).isLessThan(quantity('64Gi'))",
  "quantity(self.memory).compareTo(quantity('64Mi')) >= 0",
  "isURL(self.endpoint) && url(self.endpoint).getScheme() == 'https'",
  "url(self.endpoint).getHostname() != 'localhost'",
  "cidr(self.subnet).containsIP(self.gateway)",
  'ip(self.gateway).family() == 4',
  "self.labels.all(k, k.matches('^[a-z]+$'))",
  "'team' in self.labels",
  "self.tags.all(t, t in ['blue', 'green', 'canary'])",
  '!has(self.paused) || !self.paused || self.replicas == 0 || self.minReplicas > 0',
];

const specSchema = (withRules: boolean) => ({
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 63 },
    replicas: { type: 'integer' },
    minReplicas: { type: 'integer' },
    image: { type: 'string', maxLength: 256 },
    ports: { type: 'array', maxItems: 16, items: { type: 'integer' } },
    memory: { type: 'string', maxLength: 32 },
    endpoint: { type: 'string', maxLength: 256 },
    subnet: { type: 'string', maxLength: 64 },
    gateway: { type: 'string', maxLength: 64 },
    labels: { type: 'object', maxProperties: 8, additionalProperties: { type: 'string', maxLength: 63 } },
    tags: { type: 'array', maxItems: 8, items: { type: 'string', maxLength: 16 } },
    paused: { type: 'boolean' },
  },
  ...(withRules ? { 'x-kubernetes-validations': RULES.map((rule) => ({ rule })) } : {}),
});

function crd(plural: string, withRules: boolean) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { plural, singular: plural.slice(0, -1), kind: plural[0]!.toUpperCase() + plural.slice(1, -1), listKind: `${plural}List` },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: specSchema(withRules) } } } }],
    },
  };
}

const KINDS = [
  { plural: 'ruledapps', withRules: true },
  { plural: 'plainapps', withRules: false },
];

const spec = {
  name: 'web',
  replicas: 3,
  minReplicas: 1,
  image: 'registry.example/web:1',
  ports: [80, 443, 8080],
  memory: '512Mi',
  endpoint: 'https://web.example/health',
  subnet: '10.1.0.0/16',
  gateway: '10.1.0.1',
  labels: { team: 'web', tier: 'front' },
  tags: ['blue', 'canary'],
};

async function install(t: ApiTarget): Promise<void> {
  for (const k of KINDS) {
    await t.request('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${k.plural}.${GROUP}`);
    for (let i = 0; i < 100; i++) {
      const res = await t.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd(k.plural, k.withRules) });
      if (res.code === 201) break;
      if (res.code !== 409) throw new Error(`${t.name}: installing ${k.plural}: HTTP ${res.code} ${res.text}`);
      await new Promise((r) => setTimeout(r, 100)); // the previous copy is still being deleted
    }
    for (let i = 0; i < 100 && (await t.request('GET', `/apis/${GROUP}/v1/${k.plural}`)).code !== 200; i++) await new Promise((r) => setTimeout(r, 100));
  }
}

async function create(t: ApiTarget, ns: string, plural: string, name: string): Promise<number> {
  const kind = plural[0]!.toUpperCase() + plural.slice(1, -1);
  const started = performance.now();
  const res = await t.request('POST', `/apis/${GROUP}/v1/namespaces/${ns}/${plural}`, { body: { apiVersion: `${GROUP}/v1`, kind, metadata: { name }, spec } });
  const ms = performance.now() - started;
  if (res.code !== 201) throw new Error(`${t.name}: create ${plural}/${name}: HTTP ${res.code} ${res.text.slice(0, 500)}`);
  return ms;
}

interface Round {
  /** Median milliseconds of a create checked by the 20 rules. */
  ruled: number;
  /** Median milliseconds of a create of the same object without rules. */
  plain: number;
  /** Median of the paired differences: what the rules add to one create. */
  rules: number;
}

/**
 * Creates alternate between the two kinds, one request at a time, so a disk flush or a busy
 * neighbour hits both alike; the rules' cost is the median of the paired differences.
 */
async function round(t: ApiTarget, count: number): Promise<Round> {
  const ns = await createNamespace(t, 'bench-cel');
  const ruled: number[] = [];
  const plain: number[] = [];
  const diffs: number[] = [];
  for (let i = 0; i < count; i++) {
    const a = await create(t, ns, 'ruledapps', `a${i}`);
    const b = await create(t, ns, 'plainapps', `a${i}`);
    ruled.push(a);
    plain.push(b);
    diffs.push(a - b);
  }
  return { ruled: median(ruled), plain: median(plain), rules: median(diffs) };
}

const scenario: BenchScenario = {
  description: `${COUNT} creates of an object checked by 20 CEL rules, alternating with the same object without rules, embedded vs kube-apiserver+etcd`,
  async run() {
    const real = await kubeApiserverTarget();
    const embedded = await embeddedProcess();
    try {
      await Promise.all([install(real), install(embedded.target)]);
      // Warm both servers (rule caches, connections, the JIT) before timing.
      await round(real, 50);
      await round(embedded.target, 50);
      const e: Round[] = [];
      const r: Round[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        await settle();
        // Alternate who goes first, so neither always runs on a cold or a busy machine.
        if (i % 2 === 0) {
          e.push(await round(embedded.target, COUNT));
          r.push(await round(real, COUNT));
        } else {
          r.push(await round(real, COUNT));
          e.push(await round(embedded.target, COUNT));
        }
      }
      const eRuled = median(e.map((x) => x.ruled));
      const rRuled = median(r.map((x) => x.ruled));
      const eRules = median(e.map((x) => x.rules));
      const rRules = median(r.map((x) => x.rules));
      return {
        'create with 20 rules, median: embedded ms': eRuled.toFixed(3),
        'create with 20 rules, median: kube-apiserver ms': rRuled.toFixed(3),
        'create with 20 rules: ratio embedded/real': (eRuled / rRuled).toFixed(3),
        'what the 20 rules add to a create: embedded ms': eRules.toFixed(3),
        'what the 20 rules add to a create: kube-apiserver ms': rRules.toFixed(3),
        'the 20 rules: ratio embedded/real': rRules > 0 ? (eRules / rRules).toFixed(3) : 'n/a (not measurable on kube-apiserver)',
        'median of rounds': ROUNDS,
      };
    } finally {
      for (const k of KINDS) await real.request('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${k.plural}.${GROUP}`);
      await embedded.stop();
      await real.stop();
    }
  },
};
export default scenario;
