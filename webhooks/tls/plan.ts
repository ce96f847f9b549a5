// When to issue what: a pure function of the certificates on hand, the names to cover and the time,
// so rotation is tested without waiting for anything to expire.
//
// The CA is long-lived and the serving certificate short-lived; each is renewed well before it
// expires. A renewed CA keeps the old one in the bundle kube-apiserver trusts until the old one
// expires, so replicas still serving a certificate from the old CA are trusted during the switch.
import { coversNames, DAY_MS, inspectCertificate, isIssuedBy, issueCa, issueLeaf, validFor, type KeyPairPem } from '../../pki/authority.ts';

export interface CertificateBundle {
  ca: KeyPairPem;
  /** The CA before the last CA renewal, trusted until it expires. */
  previousCaPem?: string;
  serving: KeyPairPem;
}

export interface RotationPolicy {
  caDays: number;
  caRenewBeforeDays: number;
  servingDays: number;
  servingRenewBeforeDays: number;
}

export const DEFAULT_ROTATION: RotationPolicy = { caDays: 3650, caRenewBeforeDays: 365, servingDays: 365, servingRenewBeforeDays: 60 };

export interface Plan {
  bundle: CertificateBundle;
  /** Why new material was issued; undefined when the existing bundle is kept as it is. */
  reason?: string;
}

const CA_NAME = 'outrigger-webhook-ca';

function issueServing(ca: KeyPairPem, names: string[], now: number, policy: RotationPolicy): KeyPairPem {
  return issueLeaf(ca, { names, validity: validFor(now, policy.servingDays) });
}

function readable(pem: string | undefined): ReturnType<typeof inspectCertificate> | undefined {
  if (!pem) return undefined;
  try {
    return inspectCertificate(pem);
  } catch {
    return undefined;
  }
}

export function planCertificates(existing: CertificateBundle | undefined, names: string[], now: number, policy: RotationPolicy = DEFAULT_ROTATION): Plan {
  const caInfo = readable(existing?.ca.certPem);
  if (!existing || !caInfo) {
    const ca = issueCa(CA_NAME, validFor(now, policy.caDays));
    return { bundle: { ca, serving: issueServing(ca, names, now, policy) }, reason: existing ? 'the stored CA is unreadable' : 'no certificates yet' };
  }
  if (now >= caInfo.notAfter - policy.caRenewBeforeDays * DAY_MS) {
    const ca = issueCa(CA_NAME, validFor(now, policy.caDays));
    const previousCaPem = now < caInfo.notAfter ? existing.ca.certPem : undefined;
    return { bundle: { ca, ...(previousCaPem ? { previousCaPem } : {}), serving: issueServing(ca, names, now, policy) }, reason: 'the CA is due for renewal' };
  }

  let bundle = existing;
  let reason: string | undefined;
  const previous = readable(existing.previousCaPem);
  if (existing.previousCaPem && (!previous || now >= previous.notAfter)) {
    const { previousCaPem: _dropped, ...rest } = existing;
    bundle = rest;
    reason = 'the previous CA expired';
  }
  const servingInfo = readable(existing.serving.certPem);
  const servingProblem =
    !servingInfo || !isIssuedBy(existing.serving, existing.ca.certPem) ? 'the serving certificate does not match the CA or its key'
    : !coversNames(servingInfo, names) ? 'the serving certificate does not cover every name'
    : now >= servingInfo.notAfter - policy.servingRenewBeforeDays * DAY_MS ? 'the serving certificate is due for renewal'
    : undefined;
  if (servingProblem) {
    return { bundle: { ...bundle, serving: issueServing(existing.ca, names, now, policy) }, reason: servingProblem };
  }
  return reason ? { bundle, reason } : { bundle };
}

/** What kube-apiserver must trust: the current CA and, during a CA switch, the previous one. */
export function caBundleOf(bundle: CertificateBundle): string {
  return [bundle.ca.certPem, bundle.previousCaPem].filter(Boolean).map((p) => p!.trim()).join('\n') + '\n';
}
