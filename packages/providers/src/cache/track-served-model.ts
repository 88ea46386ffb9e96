import type { AttemptEvent, CallOptions, LanguageModel } from "../language-model.js";

/**
 * Follows a call's routing attempts (forwarding them to the caller's own `onAttempt`) to tell which
 * `<provider>/<model>` answered: the last target that succeeded, or the model itself when no router
 * reported attempts.
 */
export function trackServedModel(model: LanguageModel, options: CallOptions) {
  let served: string | undefined;
  const onAttempt = (event: AttemptEvent) => {
    if (event.outcome === "ok" || event.outcome === "cancelled") served = event.target;
    options.onAttempt?.(event);
  };
  return {
    options: { ...options, onAttempt },
    served: () => served ?? `${model.provider}/${model.modelId}`,
  };
}
