/**
 * How a log names the Redis an ioredis client connects to: its socket path, else `host:port`; never its
 * URL, which may hold a password.
 */
export function redisAddressOf(options: { host?: string; port?: number; path?: string }): string {
  return options.path || `${options.host}:${options.port}`;
}
