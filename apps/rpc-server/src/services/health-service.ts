import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { type Health, HealthCheckResponseSchema } from "@noa/proto/grpc/health/v1";
import { type HealthStatus, ServingStatus } from "../health-status.js";

/** grpc.health.v1.Health (https://github.com/grpc/grpc/blob/master/doc/health-checking.md). */
export function createHealthService({ status }: { status: HealthStatus }): ServiceImpl<typeof Health> {
  return {
    check(request) {
      const current = status.get(request.service);
      if (current === undefined) {
        throw new ConnectError(`unknown service "${request.service}"`, Code.NotFound);
      }
      return create(HealthCheckResponseSchema, { status: current });
    },

    async *watch(request, context) {
      let changed: () => void = () => {};
      const unsubscribe = status.subscribe(() => changed());
      // One listener for the whole watch: one per wait would pile up on the call's signal.
      const onAbort = () => changed();
      context.signal.addEventListener("abort", onAbort, { once: true });
      try {
        let sent: ServingStatus | undefined;
        while (!context.signal.aborted) {
          const current = status.get(request.service) ?? ServingStatus.SERVICE_UNKNOWN;
          const next = new Promise<void>((resolve) => {
            changed = resolve;
          });
          if (current !== sent) {
            sent = current;
            yield create(HealthCheckResponseSchema, { status: current });
          }
          // A watch would otherwise hold the connection open through the whole shutdown grace period.
          if (status.isShutDown) return;
          await next;
        }
      } finally {
        unsubscribe();
        context.signal.removeEventListener("abort", onAbort);
      }
    },
  };
}
