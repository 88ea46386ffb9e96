/** Variables whose whole value is a credential: `*_API_KEY`, `*_SECRET`, `*_TOKEN`, `*_PASSWORD`, `*_MASTER_KEY`. */
const credentialName = /(?:_API_KEY|_SECRET|_TOKEN|_PASSWORD|_MASTER_KEY)$/;
/** Variables holding a URL, whose password (`postgresql://user:password@…`) is a credential. */
const urlName = /_URL$/;

/** Shorter values are not looked for: they would match ordinary text. */
const minimumLength = 8;

/**
 * The credentials an app's environment holds (provider API keys, the master key, webhook and session
 * secrets, tokens, the passwords in DATABASE_URL and REDIS_URL), for createLogger to keep out of every
 * line whatever their shape: an upstream may echo its key in an error message, in a form no pattern knows.
 */
export function secretsFromEnv(env: Record<string, string | undefined>): string[] {
  const secrets = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    if (credentialName.test(name)) secrets.add(value);
    else if (urlName.test(name)) {
      const password = passwordOf(value);
      if (password) secrets.add(password);
    }
  }
  return [...secrets].filter((secret) => secret.length >= minimumLength);
}

function passwordOf(url: string): string | undefined {
  try {
    const password = new URL(url).password;
    return password ? decodeURIComponent(password) : undefined;
  } catch {
    return undefined;
  }
}
