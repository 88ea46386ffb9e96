export type {
  ChatCallOptions,
  ChatFinishReason,
  ChatMessage,
  ChatPart,
  ChatRequest,
  ChatResult,
  ChatRole,
  ChatSummary,
  ChatUsage,
} from "./chat-types.js";
export { type Credential, createAuthInterceptor } from "./create-auth-interceptor.js";
export {
  createNoaClient,
  type NoaClient,
  type NoaClientOptions,
  type TransportFactory,
} from "./create-noa-client.js";
export { describeError, type NoaErrorDescription } from "./describe-error.js";
export { type DefaultTimeouts, withDefaultTimeouts } from "./with-default-timeouts.js";
