/**
 * `pnpm db:migration <name>`: writes prisma/migrations/<UTC timestamp>_<name>/migration.sql with the SQL
 * that takes the existing migrations to schema.prisma (`prisma migrate diff` through a shadow database
 * on DATABASE_URL's server, else the local one). Offline; applies nothing.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultTestAdminUrl } from "../src/testing/create-test-database.js";
import { runPrisma } from "./run-prisma.js";

const name = process.argv[2] ?? "";
if (!/^[a-z0-9_]+$/.test(name)) {
  process.stderr.write("usage: pnpm db:migration <name>   (lowercase letters, digits and _)\n");
  process.exit(1);
}
const migrationsDir = fileURLToPath(new URL("../../../prisma/migrations", import.meta.url));
const diff = await runPrisma(
  [
    "migrate",
    "diff",
    "--from-migrations",
    "../../prisma/migrations",
    "--to-schema-datamodel",
    "../../prisma/schema.prisma",
    "--script",
    "--exit-code",
  ],
  process.env.DATABASE_URL || defaultTestAdminUrl,
);
if (diff.code === 0) {
  console.log("schema.prisma matches the migrations: nothing to write");
  process.exit(0);
}
if (diff.code !== 2) {
  process.stderr.write(diff.stdout + diff.stderr);
  process.exit(1);
}
const timestamp = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
const dir = join(migrationsDir, `${timestamp}_${name}`);
await mkdir(dir);
await writeFile(join(dir, "migration.sql"), diff.stdout);
console.log(`wrote ${dir}/migration.sql: review it, then commit it with schema.prisma`);
