import { HealthCheckResponse_ServingStatus as ServingStatus } from "@noa/proto/grpc/health/v1";

export { ServingStatus };

/** The serving status of the server ("") and of each named service, watched by grpc.health.v1. */
export interface HealthStatus {
  /** The status, or undefined for a service the server does not know. */
  get(service: string): ServingStatus | undefined;
  /** Sets a known service's status (ignored once shut down); listeners hear of a change. */
  set(service: string, status: ServingStatus): void;
  /** Sets every known service NOT_SERVING for good: the server is going away. */
  shutDown(): void;
  /** True once shutDown was called; watches end after reporting it. */
  readonly isShutDown: boolean;
  /** Calls `listener` on every change until the returned function is called. */
  subscribe(listener: () => void): () => void;
}

/** Starts with every given service (and the server itself, "") SERVING. */
export function createHealthStatus(services: string[]): HealthStatus {
  const statuses = new Map<string, ServingStatus>(
    ["", ...services].map((service) => [service, ServingStatus.SERVING]),
  );
  const listeners = new Set<() => void>();
  let isShutDown = false;
  return {
    get: (service) => statuses.get(service),
    get isShutDown() {
      return isShutDown;
    },
    set(service, status) {
      if (isShutDown || !statuses.has(service) || statuses.get(service) === status) return;
      statuses.set(service, status);
      for (const listener of listeners) listener();
    },
    shutDown() {
      isShutDown = true;
      for (const service of statuses.keys()) statuses.set(service, ServingStatus.NOT_SERVING);
      for (const listener of listeners) listener();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
