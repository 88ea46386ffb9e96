import { ConnectError } from "@connectrpc/connect";

/** The ConnectError a call fails with; throws when it succeeds. */
export async function connectErrorOf(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("the call should have failed");
}
