import { authRouter } from "./routers/auth-router.js";
import { chatRouter } from "./routers/chat-router.js";
import { jobsRouter } from "./routers/jobs-router.js";
import { modelsRouter } from "./routers/models-router.js";
import { usageRouter } from "./routers/usage-router.js";
import { createCallerFactory, router } from "./trpc.js";

/** Every procedure the BFF serves. */
export const appRouter = router({
  auth: authRouter,
  models: modelsRouter,
  chat: chatRouter,
  jobs: jobsRouter,
  usage: usageRouter,
});

/** The router's type: what a web client imports (type only) to get NOA's types end to end. */
export type AppRouter = typeof appRouter;

/** In-process calls with a context of your own (tests, server-side rendering). */
export const createCaller = createCallerFactory(appRouter);

export type { SessionInfo } from "./routers/auth-router.js";
export type { FieldError } from "./trpc.js";
export type {
  WebCompletion,
  WebCompletionSummary,
  WebFinishReason,
  WebRole,
  WebStreamEvent,
  WebUsage,
} from "./web-types/web-completion.js";
export type { WebJob, WebJobResult, WebJobSpec, WebJobState } from "./web-types/web-job.js";
export type { WebCapability, WebModel } from "./web-types/web-model.js";
export type { WebUsageRow, WebUsageSummary } from "./web-types/web-usage.js";
