import { PrismaPg } from "@prisma/adapter-pg";
import { defineConfig } from "prisma/config";
import { parseDatabaseUrl } from "./src/parse-database-url.js";

/**
 * The Prisma CLI's configuration: the WebAssembly schema engine (`engine: "js"`) over the patched
 * `@prisma/adapter-pg`, so no command downloads a native engine. Only commands that touch a database
 * call `adapter`, and they need DATABASE_URL; `prisma generate` needs nothing.
 */
export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: "../../prisma/schema.prisma",
  migrations: { path: "../../prisma/migrations" },
  async adapter() {
    const url = process.env.DATABASE_URL;
    if (url === undefined || url === "") {
      throw new Error("DATABASE_URL is not set: this Prisma command needs a PostgreSQL database");
    }
    // Fields, not a connection string (see parseDatabaseUrl). allowExitOnIdle: the CLI never ends
    // the pool, and idle connections would keep it running for another 10 s.
    return new PrismaPg({ ...parseDatabaseUrl(url), allowExitOnIdle: true });
  },
});
