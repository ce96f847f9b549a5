// Public surface of the Docker provider. The Workspace and Lab reconcilers import from here only.
export { Engine, cheapToInspect, connectionKey, describeConnection, type EngineConnection, type EngineFlavor, type EngineOptions, type TlsMaterial } from './engine.ts';
export { EngineRegistry, type EngineRegistryOptions } from './registry.ts';
export { EngineWatcher, type WatcherOptions } from './watcher.ts';
export { ContainerHistory, type OwnerContainers } from './history.ts';
export { ContainerCache, type ContainerChange, type ObservedContainer, type PublishedPort, type ContainerStateName } from './cache.ts';
export {
  WorkspaceContainers,
  endpointsOf,
  type Endpoint,
  type Observation,
  type WorkspaceObservation,
  type WorkspaceTarget,
  type WorkspaceContainersOptions,
} from './containers.ts';
export {
  RUNTIME_DIR,
  ULIMIT_NAMES,
  containerName,
  homeVolumeName,
  containerSpecHash,
  containerDrift,
  imageReferenceKey,
  renderCreateOptions,
  validateContainerSpec,
  type ContainerSpec,
  type PortSpec,
  type PullPolicy,
  type SecretEnvVar,
  type Ulimit,
  type UlimitName,
} from './container-spec.ts';
export { FILES_DIR, filesDigest, tmpfsPathOf, validateFilePath, type ContainerFile } from './files.ts';
export { probeActivity, activityEpoch, type ActivityReport } from './activity.ts';
export { execInContainer, type ExecOptions, type ExecResult } from './exec.ts';
export { ApiCallCounter, operationOf, type ApiCallSnapshot } from './api-calls.ts';
export { DockerErrorCodes, dockerError } from './errors.ts';
export { Labels, DEFAULT_INSTANCE, ownerFromLabels, ownerKey, ownerLabels, type Owner } from './labels.ts';
export { canonicalJson, specHash } from './spec-hash.ts';
export { StreamAgent, type ConnectStream } from './stream-agent.ts';
export { hostEngineConnection } from './host.ts';
export { DockerNetworks, INHIBIT_IPV4, dockerNetworkName, gatewayOf, networkDrift, overlapError, overlaps, renderNetworkCreate, type NetworkSpec, type ObservedNetwork } from './networks.ts';
export {
  DockerMachines,
  REVERT_LABEL,
  machineContainerName,
  machineSpecHash,
  renderMachineCreate,
  snapshotRepository,
  type MachineAttachment,
  type MachineContainerSpec,
  type MachineNetworks,
  type ObservedMachine,
  type SnapshotImage,
} from './machines.ts';
