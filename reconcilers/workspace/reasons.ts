// Reasons a Workspace reports beyond the kit's and the docker layer's.
import { defineReasons } from '../../controller/reasons.ts';

export const WorkspaceReasons = defineReasons('workspace', {
  Running: 'The container runs and matches the spec',
  Starting: 'The container is being started',
  Stopping: 'The container is being stopped (spec.state Stopped or idle timeout)',
  Stopped: 'Stopped as spec.state asks; the home is kept',
  IdleStopped: 'Stopped after spec.idleTimeout without activity; the home is kept (wake it with the annotation the message gives)',
  IdleTimeout: 'No activity for spec.idleTimeout: the workspace is stopped',
  Active: 'Activity was seen within spec.idleTimeout',
  NoIdleTimeout: 'spec.idleTimeout is not set: the workspace never stops for idleness',
  Succeeded: 'The bootstrap step succeeded for this home',
  Bootstrapped: 'The bootstrap step ran and succeeded',
  BootstrapFailed: 'The bootstrap step failed: fix the script; it runs again when the spec changes',
  Pending: 'Waiting for something that comes by itself (the container running, a referent)',
  NotSupported: 'The engine cannot limit the home volume to spec.home.size',
  NotRequested: 'spec.home.size is not set',
  NotImplemented: 'The runtime the spec asks for is not implemented in this version',
});
