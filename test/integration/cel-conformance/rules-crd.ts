// A CRD whose x-kubernetes-validations exercise CEL and every Kubernetes CEL library a rule can
// call: lists, regex, URLs, quantities, IPs and CIDRs, named formats, sets, optional values,
// timestamps and durations, int-or-string, transition rules (oldSelf, optionalOldSelf),
// messageExpression, reason and fieldPath. Sizes are bounded so the rules fit the cost limits.

export const GROUP = 'celconformance.outrigger.dev';

const str = (maxLength = 253) => ({ type: 'string', maxLength });

export const rulesCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `celrules.${GROUP}` },
  spec: {
    group: GROUP,
    scope: 'Namespaced',
    names: { plural: 'celrules', singular: 'celrule', kind: 'CelRule', listKind: 'CelRuleList' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            'x-kubernetes-validations': [
              { rule: 'self.metadata.name.size() <= 20', message: 'names are at most 20 characters here' },
              {
                rule: '!has(self.spec.replicas) || !has(self.spec.minReplicas) || self.spec.minReplicas <= self.spec.replicas',
                message: 'minReplicas must not exceed replicas',
                fieldPath: '.spec.minReplicas',
              },
            ],
            properties: {
              spec: {
                type: 'object',
                properties: {
                  replicas: { type: 'integer' },
                  minReplicas: { type: 'integer' },
                  ports: {
                    type: 'array',
                    maxItems: 16,
                    items: { type: 'integer' },
                    'x-kubernetes-validations': [
                      { rule: 'self.isSorted()', message: 'ports must be sorted' },
                      { rule: 'self.size() == 0 || (self.min() >= 1 && self.max() <= 65535)', message: 'ports are 1 to 65535' },
                      { rule: 'self.sum() <= 100000', message: 'ports add up to more than 100000' },
                      { rule: 'self.indexOf(22) == self.lastIndexOf(22)', message: 'port 22 may appear once', reason: 'FieldValueDuplicate' },
                    ],
                  },
                  weights: {
                    type: 'array',
                    maxItems: 8,
                    items: { type: 'number' },
                    'x-kubernetes-validations': [{ rule: 'self.size() == 0 || self.sum() == 1.0', message: 'weights add up to 1' }],
                  },
                  names: {
                    type: 'array',
                    maxItems: 16,
                    items: str(63),
                    'x-kubernetes-validations': [
                      { rule: 'self.all(n, !format.dns1123Label().validate(n).hasValue())', messageExpression: "'not a DNS label: ' + self.filter(n, format.dns1123Label().validate(n).hasValue())[0]" },
                      { rule: 'self.all(n, self.exists_one(m, m == n))', reason: 'FieldValueDuplicate' },
                    ],
                  },
                  hostname: {
                    ...str(),
                    'x-kubernetes-validations': [
                      { rule: '!format.dns1123Subdomain().validate(self).hasValue()', messageExpression: "self + ' is not a DNS subdomain'" },
                      { rule: "format.named('dns1123Label').hasValue()" },
                    ],
                  },
                  image: {
                    ...str(256),
                    'x-kubernetes-validations': [
                      { rule: "self.findAll(':').size() <= 1", message: 'at most one colon' },
                      { rule: "self.find('^[a-z0-9./-]+') == self.split(':')[0]", messageExpression: "'repository ' + self.split(':')[0] + ' has characters outside [a-z0-9./-]'" },
                      { rule: "!self.contains(':') || self.findAll('[0-9]+', 1).size() <= 1" },
                    ],
                  },
                  endpoint: {
                    ...str(2048),
                    'x-kubernetes-validations': [
                      { rule: 'isURL(self)', message: 'must be an absolute URL' },
                      { rule: "!isURL(self) || url(self).getScheme() in ['http', 'https']", messageExpression: "'the scheme of ' + self + ' is not http or https'" },
                      { rule: "!isURL(self) || url(self).getHostname() != 'localhost'", message: 'localhost is not reachable from the cluster', reason: 'FieldValueForbidden' },
                      { rule: "!isURL(self) || url(self).getPort() == '' || int(url(self).getPort()) < 1024 || url(self).getScheme() == 'http'", message: 'high ports only over http' },
                      { rule: "!isURL(self) || !('debug' in url(self).getQuery())", message: 'no debug query' },
                      { rule: "url(self).getEscapedPath().startsWith('/') || url(self).getEscapedPath() == ''" },
                    ],
                  },
                  resources: {
                    type: 'object',
                    properties: { request: str(64), limit: str(64) },
                    'x-kubernetes-validations': [
                      { rule: '!has(self.request) || isQuantity(self.request)', message: 'request must be a quantity', fieldPath: '.request' },
                      {
                        rule: '!has(self.request) || !has(self.limit) || quantity(self.request).compareTo(quantity(self.limit)) <= 0',
                        messageExpression: "'request ' + self.request + ' exceeds limit ' + self.limit",
                        fieldPath: '.request',
                      },
                      { rule: "!has(self.limit) || quantity(self.limit).isLessThan(quantity('64Gi'))", message: 'limit must be under 64Gi' },
                      { rule: "!has(self.limit) || sign(quantity(self.limit).sub(quantity('1Mi'))) >= 0", message: 'limit must be at least 1Mi' },
                      { rule: "!has(self.request) || !quantity(self.request).isInteger() || quantity(self.request).asInteger() % 2 == 0", message: 'whole requests are even' },
                      { rule: "!has(self.limit) || quantity(self.limit).add(1).asApproximateFloat() > 1.0" },
                    ],
                  },
                  network: {
                    type: 'object',
                    properties: { subnet: str(64), gateway: str(64), dns: { type: 'array', maxItems: 4, items: str(64) } },
                    'x-kubernetes-validations': [
                      { rule: '!has(self.subnet) || isCIDR(self.subnet)', message: 'subnet must be a CIDR', fieldPath: '.subnet' },
                      { rule: '!has(self.subnet) || cidr(self.subnet).prefixLength() >= 8', message: 'subnet is at most a /8' },
                      { rule: '!has(self.subnet) || cidr(self.subnet).masked() == cidr(self.subnet)', messageExpression: "'subnet ' + self.subnet + ' is not a network address'" },
                      { rule: '!has(self.gateway) || (isIP(self.gateway) && ip.isCanonical(self.gateway))', message: 'gateway must be a canonical IP address', fieldPath: '.gateway' },
                      { rule: '!has(self.gateway) || !has(self.subnet) || cidr(self.subnet).containsIP(self.gateway)', message: 'gateway must be inside the subnet' },
                      { rule: '!has(self.gateway) || ip(self.gateway).family() == cidr(self.subnet).ip().family()', message: 'gateway and subnet are one family' },
                      { rule: '!has(self.gateway) || (!ip(self.gateway).isLoopback() && !ip(self.gateway).isUnspecified() && !ip(self.gateway).isLinkLocalUnicast())', message: 'gateway must be routable' },
                      { rule: "!has(self.dns) || self.dns.all(d, ip(d).isGlobalUnicast() || cidr('10.0.0.0/8').containsIP(ip(d)))", message: 'DNS servers must be global or in 10/8' },
                      { rule: "!has(self.subnet) || !cidr('192.168.0.0/16').containsCIDR(self.subnet)", message: '192.168/16 is reserved' },
                    ],
                  },
                  mode: { ...str(16), 'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'mode is immutable', reason: 'FieldValueForbidden' }] },
                  generation: {
                    type: 'integer',
                    'x-kubernetes-validations': [{ rule: '!oldSelf.hasValue() || self >= oldSelf.value()', message: 'generation may not go back', optionalOldSelf: true }],
                  },
                  window: {
                    type: 'object',
                    properties: { start: { type: 'string', format: 'date-time' }, end: { type: 'string', format: 'date-time' }, timeout: { type: 'string', format: 'duration' } },
                    'x-kubernetes-validations': [
                      { rule: '!has(self.start) || !has(self.end) || self.start < self.end', message: 'start must be before end' },
                      { rule: "!has(self.start) || !has(self.end) || self.end - self.start <= duration('24h')", message: 'the window is at most 24h' },
                      { rule: "!has(self.timeout) || self.timeout < duration('1h')", message: 'timeout is under an hour' },
                      { rule: "!has(self.start) || self.start.getFullYear() >= 2020", message: 'start is 2020 or later' },
                    ],
                  },
                  labels: {
                    type: 'object',
                    maxProperties: 8,
                    additionalProperties: str(63),
                    'x-kubernetes-validations': [
                      { rule: "self.all(k, k.matches('^[a-z]+$'))", message: 'label keys are lower-case words' },
                      { rule: "'team' in self", message: 'a team label is required', reason: 'FieldValueRequired' },
                      { rule: "!('team' in self) || self['team'].lowerAscii() == self['team']", message: 'team is lower case', fieldPath: ".team" },
                    ],
                  },
                  tags: {
                    type: 'array',
                    maxItems: 8,
                    'x-kubernetes-list-type': 'set',
                    items: str(16),
                    'x-kubernetes-validations': [
                      { rule: "sets.contains(['blue', 'green', 'red', 'canary'], self)", message: 'tags are blue, green, red or canary' },
                      { rule: "!sets.intersects(self, ['blue']) || !sets.intersects(self, ['green'])", message: 'blue or green, not both' },
                      { rule: "!sets.equivalent(self, ['canary'])", message: 'canary needs a colour' },
                    ],
                  },
                  steps: {
                    type: 'array',
                    maxItems: 8,
                    'x-kubernetes-list-type': 'map',
                    'x-kubernetes-list-map-keys': ['name'],
                    items: {
                      type: 'object',
                      required: ['name'],
                      properties: { name: str(32), retries: { type: 'integer' } },
                      'x-kubernetes-validations': [{ rule: '!has(oldSelf.retries) || (has(self.retries) && self.retries >= oldSelf.retries)', message: 'retries may only grow' }],
                    },
                  },
                  size: {
                    'x-kubernetes-int-or-string': true,
                    'x-kubernetes-validations': [
                      { rule: "type(self) == string ? self.endsWith('%') : self >= 0", message: 'a percentage or a non-negative count' },
                      { rule: 'self != 7' },
                    ],
                  },
                  threshold: { 'x-kubernetes-int-or-string': true, 'x-kubernetes-validations': [{ rule: 'self > 5' }] },
                  ratio: { type: 'number', 'x-kubernetes-validations': [{ rule: 'self <= 1.0 && self * 2.0 != 1.5', message: 'ratio is at most 1 and not 0.75' }] },
                  checksum: { type: 'string', format: 'byte', maxLength: 64, 'x-kubernetes-validations': [{ rule: 'size(self) == 4', message: 'checksum is 4 bytes' }] },
                  limits: {
                    type: 'object',
                    properties: { low: { type: 'integer' }, high: { type: 'integer' }, div: { type: 'integer' } },
                    'x-kubernetes-validations': [
                      { rule: 'self.low + self.high > 0', message: 'low and high must add up to more than 0' },
                      { rule: '!has(self.div) || 100 / self.div > 1' },
                      { rule: 'optional.of(self.low).orValue(0) >= -100 && optional.none().orValue(self.low) == self.low' },
                    ],
                  },
                },
              },
            },
          },
        },
      },
    ],
  },
};

/** A valid spec: every case changes one part of it. */
export const validSpec = {
  replicas: 3,
  minReplicas: 1,
  ports: [80, 443, 8080],
  weights: [0.25, 0.75],
  names: ['web', 'api'],
  hostname: 'app.example.com',
  image: 'registry.example/app:1',
  endpoint: 'https://api.example.com/v1?x=1',
  resources: { request: '500m', limit: '2Gi' },
  network: { subnet: '10.1.0.0/16', gateway: '10.1.0.1', dns: ['8.8.8.8', '10.0.0.53'] },
  mode: 'fast',
  generation: 1,
  window: { start: '2024-01-01T00:00:00Z', end: '2024-01-01T06:00:00Z', timeout: '30m' },
  labels: { team: 'infra', tier: 'web' },
  tags: ['blue', 'canary'],
  steps: [{ name: 'build', retries: 1 }],
  size: '50%',
  threshold: 9,
  ratio: 0.5,
  checksum: 'AQIDBA==',
  limits: { low: 1, high: 2 },
};
