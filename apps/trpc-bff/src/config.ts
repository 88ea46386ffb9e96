import { z } from "zod";

function emptyAsUnset(value: unknown): unknown {
  return value === "" ? undefined : value;
}

const schema = z.object({
  BFF_HOST: z.string().default("127.0.0.1"),
  BFF_PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  NOA_RPC_URL: z.url().default("http://127.0.0.1:8080"),
  BFF_RPC_PROTOCOL: z.enum(["grpc", "connect"]).default("grpc"),
  BFF_SESSION_SECRET: z.string().min(32, "BFF_SESSION_SECRET must be at least 32 characters").optional(),
  BFF_SESSION_TTL_S: z.coerce
    .number()
    .int()
    .positive()
    .default(12 * 60 * 60),
  BFF_PUBLIC_ORIGIN: z.url().optional(),
  BFF_STATIC_DIR: z.string().optional(),
  BFF_MAX_BODY_BYTES: z.coerce.number().int().positive().default(1_048_576),
  // Shared with the other apps, which read an empty value as unset.
  REDIS_URL: z.preprocess(emptyAsUnset, z.url().optional()),
  NOA_JOBS_PREFIX: z.preprocess(
    emptyAsUnset,
    z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, "NOA_JOBS_PREFIX must be 1-64 letters, digits, _ or -")
      .default("noa"),
  ),
  LOG_LEVEL: z.string().default("info"),
  NODE_ENV: z.string().optional(),
});

/** The BFF's configuration, from the environment (README "Web: tRPC BFF and playground"). */
export interface BffConfig {
  host: string;
  port: number;
  rpcUrl: string;
  rpcProtocol: "grpc" | "connect";
  /** undefined: main.ts makes a random one (sessions then end when the process does). */
  sessionSecret: string | undefined;
  sessionTtlSeconds: number;
  /** Where browsers reach the BFF; https makes cookies Secure, and it is the only origin allowed to send mutations. */
  publicOrigin: string | undefined;
  staticDir: string | undefined;
  /** The largest request body tRPC reads (413 beyond). */
  maxBodyBytes: number;
  /** REDIS_URL: where replicas share signed-out sessions; undefined: each process remembers its own. */
  redisUrl: string | undefined;
  /** NOA_JOBS_PREFIX: the start of every Redis key of the deployment. */
  redisPrefix: string;
  logLevel: string;
  prettyLogs: boolean;
}

/** Parses the environment once; throws naming every bad variable. */
export function parseConfig(env: NodeJS.ProcessEnv): BffConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `bad configuration: ${parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ")}`,
    );
  }
  const value = parsed.data;
  return {
    host: value.BFF_HOST,
    port: value.BFF_PORT,
    rpcUrl: value.NOA_RPC_URL,
    rpcProtocol: value.BFF_RPC_PROTOCOL,
    sessionSecret: value.BFF_SESSION_SECRET,
    sessionTtlSeconds: value.BFF_SESSION_TTL_S,
    publicOrigin: value.BFF_PUBLIC_ORIGIN ? new URL(value.BFF_PUBLIC_ORIGIN).origin : undefined,
    staticDir: value.BFF_STATIC_DIR,
    maxBodyBytes: value.BFF_MAX_BODY_BYTES,
    redisUrl: value.REDIS_URL,
    redisPrefix: value.NOA_JOBS_PREFIX,
    logLevel: value.LOG_LEVEL,
    prettyLogs: value.NODE_ENV === "development",
  };
}
