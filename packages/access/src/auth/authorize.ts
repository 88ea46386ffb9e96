import { AccessError } from "./access-error.js";
import type { Principal, Scope } from "./principal.js";

/** Whether the caller holds `scope`; `admin` implies every other scope. */
export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.includes(scope) || principal.scopes.includes("admin");
}

/** Throws `permission-denied` naming the missing scope unless the caller holds it (or `admin`). */
export function requireScope(principal: Principal, scope: Scope): void {
  if (hasScope(principal, scope)) return;
  const held = principal.scopes.length > 0 ? principal.scopes.join(", ") : "none";
  throw new AccessError(
    "permission-denied",
    `this ${credentialName(principal)} lacks the "${scope}" scope (it has: ${held})`,
  );
}

/**
 * Whether the caller may use `modelId` (as requested: an id or an alias). An empty allow-list means every
 * model; `<provider>/*` allows a whole provider. Applies to admins too.
 */
export function hasModel(principal: Principal, modelId: string): boolean {
  const allowed = principal.allowedModels;
  return (
    allowed.length === 0 ||
    allowed.some(
      (entry) => entry === modelId || (entry.endsWith("/*") && modelId.startsWith(entry.slice(0, -1))),
    )
  );
}

/** Throws `permission-denied` naming the model and the allow-list unless {@link hasModel}. */
export function requireModel(principal: Principal, modelId: string): void {
  if (hasModel(principal, modelId)) return;
  const allowed = principal.allowedModels;
  throw new AccessError(
    "permission-denied",
    `this ${credentialName(principal)} may not use model "${modelId}" (allowed: ${allowed.join(", ")})`,
  );
}

function credentialName(principal: Principal): string {
  return principal.kind === "key" ? "API key" : "token";
}
