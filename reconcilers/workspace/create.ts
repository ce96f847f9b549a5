// Making a new workspace container in the fewest engine calls, because creation is what a class of
// 200 waits for: ONE create request that also makes the labelled home volume (Docker creates a
// missing named volume from the mount's VolumeOptions), then start. The provider's
// WorkspaceContainers.create does the same in seven calls (image inspect, volume inspect and
// create, a fresh list, create, start, inspect); on a busy engine each call is latency in every
// reconcile. Its guarantees stay:
//   - never two containers: the engine refuses a second container of the same name (409), and that
//     case falls back to the provider's createContainer, which adopts ours or names the stranger;
//   - nothing half-made for a missing image: the engine resolves the image before it makes the
//     container or its volume; a 404 falls back to the provider's ensureImage (a pull as the
//     policy allows, or its ImageNotFound message saying what to do) and one more try;
//   - the cache learns the new container and that it runs, so the next observe needs no call.
// What it gives up: a volume of that name made by hand for another owner is mounted rather than
// refused (the provider's ensureVolume checks the owner label; the name carries the owner's uid).
// Re-creation and every other change go through the provider's update.
// On Podman (4.3) the one-request volume is not possible: its Docker API ignores the mount's
// VolumeOptions and makes the volume without labels. There the image is checked and the labelled
// volume made first, through the provider (ensureImage, ensureVolume), then create and start: five
// calls, plus one ping per engine to tell the two apart.
import { OutriggerError } from '../../controller/errors.ts';
import { ErrorCodes } from '../common/reasons.ts';
import {
  containerName,
  DockerErrorCodes,
  ownerLabels,
  containerSpecHash,
  renderCreateOptions,
  validateContainerSpec,
  type ContainerSpec,
  type ObservedContainer,
  type WorkspaceContainers,
  type WorkspaceTarget,
} from '../docker/index.ts';

/** The provider's create request with the home volume's labels on its mount. Holds secret env: never log it. */
export function createRequest(spec: ContainerSpec, instance: string): ReturnType<typeof renderCreateOptions> {
  const options = renderCreateOptions(spec, instance);
  for (const mount of options.HostConfig?.Mounts ?? []) {
    if (mount.Type === 'volume' && mount.Source === spec.home.volume) Object.assign(mount, { VolumeOptions: { Labels: ownerLabels(spec.owner, instance, 'home') } });
  }
  return options;
}

const codeOf = (err: unknown): string | undefined => (err instanceof OutriggerError ? String(err.code) : undefined);

/** Creates (or adopts) the container and, when the target runs, starts it and places its files. */
export async function createWorkspaceContainer(containers: WorkspaceContainers, target: WorkspaceTarget, now: () => number, signal?: AbortSignal): Promise<ObservedContainer> {
  const { spec } = target;
  validateContainerSpec(spec);
  if ((await containers.engine.flavor(signal)) === 'podman') {
    // The image first, so a missing one still leaves nothing behind; then the labelled home.
    await containers.ensureImage(spec.image, spec.pullPolicy, signal);
    await containers.ensureVolume(spec, signal);
  } else if (spec.pullPolicy === 'Always') {
    // Always means a fresh pull before each create; the other policies pull only what is missing.
    await containers.ensureImage(spec.image, spec.pullPolicy, signal);
  }
  let created: ObservedContainer;
  try {
    created = await createOnce(containers, spec, now, signal);
  } catch (err) {
    if (codeOf(err) !== DockerErrorCodes.ImageNotFound) {
      created = await adoptOnConflict(containers, spec, err, signal);
    } else {
      await containers.ensureImage(spec.image, spec.pullPolicy, signal);
      created = await createOnce(containers, spec, now, signal).catch((again: unknown) => adoptOnConflict(containers, spec, again, signal));
    }
  }
  if (!target.running) return created;
  if (created.state !== 'running') {
    await containers.start(created.id, signal);
    // What we just did; the engine's start event says the same a moment later.
    containers.cache.remember({ ...created, state: 'running', ports: undefined }, now());
  }
  if (target.files.length > 0) await containers.writeFiles(created.id, target.files, signal);
  return containers.cache.get(created.id) ?? { ...created, state: 'running' };
}

async function createOnce(containers: WorkspaceContainers, spec: ContainerSpec, now: () => number, signal?: AbortSignal): Promise<ObservedContainer> {
  const engine = containers.engine;
  const name = containerName(spec.owner);
  const request = createRequest(spec, containers.instance);
  const result = await engine.call(`create container ${name}`, (abortSignal) => engine.docker.createContainer({ ...request, abortSignal } as typeof request), signal);
  const observed: ObservedContainer = { id: result.id, name, owner: spec.owner, specHash: containerSpecHash(spec), state: 'created', image: spec.image, verified: true };
  containers.cache.remember(observed, now());
  return observed;
}

/** The name is taken: the provider's createContainer looks again and adopts ours, or says whose it is. */
async function adoptOnConflict(containers: WorkspaceContainers, spec: ContainerSpec, err: unknown, signal?: AbortSignal): Promise<ObservedContainer> {
  if (codeOf(err) !== ErrorCodes.Conflict) throw err;
  return containers.createContainer(spec, signal);
}
