// Waiting for a referent: an object this one names (a Host, a Secret, a cluster) is missing or
// not usable yet. Raised by reference resolution, classified as a wait rather than a failure.
import { OutriggerError, type ErrorCode } from '../../controller/index.ts';

export interface Referent {
  kind: string;
  namespace: string;
  name: string;
}

/** A referent this object needs is missing or not usable yet: not an error, a wait. */
export class WaitingForReferent extends OutriggerError {
  readonly referent: Referent;

  constructor(code: ErrorCode, referent: Referent, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'WaitingForReferent';
    this.referent = referent;
  }
}

