// Reasons a Lab reports beyond the kit's and the providers' (docs/reasons.md is generated from them).
import { defineReasons } from '../../controller/reasons.ts';

export const LabReasons = defineReasons('lab', {
  LabReady: 'Every machine of the Lab is Ready',
  Provisioning: 'Machines are being made, started or provisioned; the Lab goes on by itself',
  WaitingForDependencies: 'A machine waits for the machines in its dependsOn to be Ready',
  MachineFailed: 'A machine did not come up or one of its steps failed; with failurePolicy Keep it is left as it is for inspection',
  MachineCreated: 'A machine was made (a container or a VM)',
  MachineReady: 'A machine is Ready: running, first boot and every provisioning step done',
  MachineExited: 'A machine\'s container stopped by itself; it is started again (an image whose command ends cannot be a Lab machine)',
  StepSucceeded: 'A first-boot or provisioning step ran once and exited 0',
  StepFailed: 'A first-boot or provisioning step exited non-zero, ran out of time or was cut off; status and the event carry its exit code and last lines',
  RolledBack: 'failurePolicy Rollback removed what the failed attempt made (or reverted to the snapshot); it is tried again at status.nextRetryTime',
  LabStopped: 'Every machine is stopped, as spec.state, the daily schedule or expiry asks; nothing was removed',
  LabStopping: 'The Lab\'s machines are being stopped (spec.state, the daily schedule or expiry)',
  Expired: 'The Lab passed its schedule expiry: its machines were removed (expiryAction Delete) or stopped (Stop); the Lab object stays',
  SnapshotTaken: 'Every machine was snapshotted once all were Ready (snapshotOnReady)',
  Reverted: 'Every machine was brought back to the snapshot, as the outrigger.dev/revert annotation asked',
  RevertRefused: 'A revert was asked for but the Lab has no snapshot to go back to (set snapshotOnReady and wait for Ready)',
  AccessSecretWritten: 'The Lab\'s access details (addresses, users, ssh_config, generated passwords) are in the Secret <lab>-access',
  MachineNotSupported: 'The machine asks for something this controller version cannot do yet; the message names it',
});
