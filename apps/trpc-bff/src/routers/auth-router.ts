import { Code, ConnectError } from "@connectrpc/connect";
import { z } from "zod";
import { keyPrefixOf } from "../session/session-sealer.js";
import { BffError } from "../to-trpc-error.js";
import { publicProcedure, router } from "../trpc.js";

/** What the page may know of its session: never the key, only its public prefix and the CSRF token. */
export interface SessionInfo {
  signedIn: boolean;
  keyPrefix: string | null;
  csrfToken: string | null;
  expiresAt: string | null;
}

/** What no API key or JWT has: a space, a control character, a quote, or anything beyond ASCII. */
const notCredentialText = /[^\x21-\x7e]|["'`]/;

/** Sign-in, sign-out and the current session. */
export const authRouter = router({
  /** The current session; its CSRF token is what mutations must send as `x-csrf-token`. */
  session: publicProcedure.query(({ ctx }): SessionInfo => {
    const { session } = ctx;
    return session
      ? {
          signedIn: true,
          keyPrefix: session.keyPrefix,
          csrfToken: session.csrfToken,
          expiresAt: new Date(session.expiresAt).toISOString(),
        }
      : { signedIn: false, keyPrefix: null, csrfToken: null, expiresAt: null };
  }),

  /**
   * Exchanges a NOA API key for a session cookie. Text with spaces, quotes or anything but printable
   * ASCII in it cannot be a credential and is refused here, in the words of the sign-in form: sent on,
   * rpc-server would answer about its Authorization header, which the person typing never chose, and a
   * character beyond Latin-1 cannot be put in a header at all. Anything else is checked by rpc-server
   * itself (ListModels): a key it does not know is refused; a known key without the models:read scope is
   * still the caller's.
   */
  signIn: publicProcedure
    .input(z.object({ apiKey: z.string().trim().min(1, "paste an API key").max(512) }))
    .mutation(async ({ ctx, input }): Promise<SessionInfo> => {
      if (notCredentialText.test(input.apiKey)) {
        throw new BffError({
          code: "UNAUTHORIZED",
          message:
            "that is not an API key: keys have no spaces or quotes (they look like noa_…); paste the whole key",
          correlationId: ctx.correlationId,
        });
      }
      try {
        await ctx.call(input.apiKey, (options) => ctx.rpc.models.listModels({}, options));
      } catch (error) {
        const cause = error instanceof BffError ? error.cause : undefined;
        const forbiddenOnly = cause instanceof ConnectError && cause.code === Code.PermissionDenied;
        if (!forbiddenOnly) throw error;
      }
      const session = await ctx.startSession(input.apiKey, keyPrefixOf(input.apiKey));
      ctx.logger.info({ correlationId: ctx.correlationId, keyPrefix: session.keyPrefix }, "signed in");
      return {
        signedIn: true,
        keyPrefix: session.keyPrefix,
        csrfToken: session.csrfToken,
        expiresAt: new Date(session.expiresAt).toISOString(),
      };
    }),

  /** Ends the session: clears the cookie and revokes the session, so that no copy of the cookie works. */
  signOut: publicProcedure.mutation(async ({ ctx }): Promise<SessionInfo> => {
    await ctx.endSession();
    return { signedIn: false, keyPrefix: null, csrfToken: null, expiresAt: null };
  }),
});
