import type { RegistryApi } from '../ports/registry-api.js';
import { RegistryClient, type RegistryClientOptions } from '../registry/client.js';
import type { TransferConnection, TransferEvent } from './events.js';

/** Makes the registry port for one side of a pull or copy; default the OCI client. */
export type RegistryFactory = (options: RegistryClientOptions) => RegistryApi;

/** A client for `host` whose retries are reported as events, as push does. */
export function transferClient(
  host: string,
  connection: TransferConnection | undefined,
  open: RegistryFactory | undefined,
  onEvent: ((event: TransferEvent) => void) | undefined,
): RegistryApi {
  const given = connection ?? {};
  const make = open ?? ((options: RegistryClientOptions) => new RegistryClient(options));
  return make({
    ...given,
    host,
    onRetry: (event) => {
      given.onRetry?.(event);
      onEvent?.({
        kind: 'retry',
        action: event.action,
        attempt: event.attempt,
        delayMs: event.delayMs,
        reason: event.error instanceof Error ? event.error.message : String(event.error),
      });
    },
  });
}
