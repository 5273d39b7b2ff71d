/**
 * The mode a unit's registry deletes may use, asked before every unit: with `PRUNER_MODE=auto` it follows the
 * registry operator's managementState. A GET of the operator's config before every unit was a third of a
 * confirmed run's API calls; a watch of that one object answers the same question from memory, as current
 * as the watch (its events arrive within milliseconds of the change). Whenever the watch is not connected
 * (starting, reconnecting, or stopped because the role lacks `list`/`watch` on `configs`), each question
 * reads the object again, as before.
 */
import {
  pruneModeFor,
  RegistryNames,
  Resources,
  type ClusterApi,
  Informer,
  type KubeObject,
  type PruneMode,
} from '@registry-push/core';
import { currentMode } from './cluster.js';
import type { ModeSetting } from './settings.js';

interface RegistryConfigObject extends KubeObject {
  spec?: { managementState?: string };
}

/** The worker's answer to "which mode now", from a watch of the registry operator's config. */
export class ModeWatch {
  #informer: Informer<RegistryConfigObject> | undefined;

  /**
   * @param client The unpaced client (the watch is one long request; the fallback GETs are rare).
   * @param setting `auto`, or a mode forced by the settings (then nothing is watched).
   * @param onUnwatchable Told when the watch cannot start (the questions then read the object).
   */
  constructor(
    private readonly client: ClusterApi,
    private readonly setting: ModeSetting,
    private readonly onUnwatchable?: (error: unknown) => void,
  ) {}

  /** Starts the watch (once); questions asked before it is connected read the object. */
  start(): void {
    if (this.setting !== 'auto' || this.#informer !== undefined) return;
    const informer = new Informer<RegistryConfigObject>(this.client, Resources.registryConfig, {
      fieldSelector: `metadata.name=${RegistryNames.operatorConfig}`,
    });
    this.#informer = informer.start();
    // It fails to sync when it may not list or watch (kube answers 403 at once): said once, then read.
    informer.waitForSync().catch((error: unknown) => {
      if (this.#informer === informer) this.onUnwatchable?.(error);
    });
  }

  /** The mode now. */
  async current(): Promise<PruneMode> {
    if (this.setting !== 'auto') return this.setting;
    const informer = this.#informer;
    if (informer?.connected === true) {
      return pruneModeFor(informer.get(RegistryNames.operatorConfig)?.spec?.managementState);
    }
    return currentMode(this.client, this.setting);
  }

  /** Ends the watch. */
  async stop(): Promise<void> {
    await this.#informer?.stop();
    this.#informer = undefined;
  }
}
