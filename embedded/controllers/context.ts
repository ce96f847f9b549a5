// What the built-in controllers share: the service they act through and how they identify.
import type { ResourceService } from '../api/service.ts';
import type { Registry } from '../kinds/registry.ts';
import type { ObjectStore } from '../storage/store.ts';

export const CONTROLLER_MANAGER = 'embedded-controller-manager';

export interface ControllerContext {
  store: ObjectStore;
  registry: Registry;
  service: ResourceService;
  warn: (message: string) => void;
}

export function controllerWriteOptions() {
  return { fieldManager: CONTROLLER_MANAGER, fieldValidation: 'Ignore' as const, warnings: [] as string[] };
}

export interface Controller {
  start(): void;
  stop(): void;
  /** Resolves once queued work is done (tests). */
  idle(): Promise<void>;
}
