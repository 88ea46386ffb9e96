import { getEventListeners } from "node:events";
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { HealthCheckRequestSchema } from "@noa/proto/grpc/health/v1";
import { describe, expect, it } from "vitest";
import { createHealthStatus, ServingStatus } from "../health-status.js";
import { createHealthService } from "./health-service.js";

describe("Health.Watch", () => {
  it("reports every change over a long watch with one abort listener on the call, and ends when the call does", async () => {
    const status = createHealthStatus(["noa.Test"]);
    const call = new AbortController();
    const watch = createHealthService({ status })
      .watch(create(HealthCheckRequestSchema, { service: "noa.Test" }), {
        signal: call.signal,
      } as HandlerContext)
      [Symbol.asyncIterator]();
    const seen: ServingStatus[] = [];
    const next = async () => {
      const result = await watch.next();
      if (!result.done) seen.push(result.value.status ?? ServingStatus.UNKNOWN);
      return result;
    };
    await next();
    for (let flip = 0; flip < 20; flip++) {
      const pending = next();
      status.set("noa.Test", flip % 2 === 0 ? ServingStatus.NOT_SERVING : ServingStatus.SERVING);
      await pending;
    }
    expect(seen).toHaveLength(21);
    expect(seen.slice(0, 3)).toEqual([
      ServingStatus.SERVING,
      ServingStatus.NOT_SERVING,
      ServingStatus.SERVING,
    ]);
    // A listener per change would be 21 by now, and Node warns of a leak past 10.
    expect(getEventListeners(call.signal, "abort")).toHaveLength(1);
    const ended = next();
    call.abort();
    expect((await ended).done).toBe(true);
    expect(getEventListeners(call.signal, "abort")).toHaveLength(0);
  });
});
