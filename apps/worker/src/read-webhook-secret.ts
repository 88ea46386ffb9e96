import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * The webhook signing secret when NOA_WEBHOOK_SECRET is unset (one machine, no setup): read from
 * `<dataDir>/webhook-secret`, created once (mode 0600) with 32 random bytes, so every worker sharing the
 * data directory signs with the same secret. The secret is never logged.
 */
export async function readWebhookSecret(
  dataDir: string,
): Promise<{ secret: string; file: string; created: boolean }> {
  const file = path.join(dataDir, "webhook-secret");
  try {
    return { secret: (await readFile(file, "utf8")).trim(), file, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await mkdir(dataDir, { recursive: true });
  const secret = `whsec_${randomBytes(32).toString("base64url")}`;
  try {
    // `wx`: two workers starting together make one secret; the second reads the first's.
    await writeFile(file, `${secret}\n`, { mode: 0o600, flag: "wx" });
    return { secret, file, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return { secret: (await readFile(file, "utf8")).trim(), file, created: false };
  }
}
