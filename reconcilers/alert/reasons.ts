// Reasons an Alert reports in its conditions and events, and the codes of its evaluations.
// Delivery failures use the notify layer's codes (reconcilers/notify/errors.ts).
import { defineReasons } from '../../controller/reasons.ts';

export const AlertReasons = defineReasons('alert', {
  TargetNotFound: 'A rule names a target that does not exist (yet); the other rules are evaluated, and this one starts when the target appears',
  ReceiverNotReady: 'A receiver cannot be used yet (its Secret or key is missing, or its URL is unusable); notifications for it wait and are sent once it is fixed',
  AlertFiring: 'A rule started firing for a target',
  AlertResolved: 'A rule stopped firing for a target',
  NotificationSent: 'A notification was delivered to a receiver',
  NotificationFailed: 'Delivering a notification failed; it is retried with backoff (not for a refusal such as HTTP 4xx)',
  InvalidSilence: 'A silence annotation is not an RFC 3339 time (optionally followed by a comment); it silences nothing',
});
