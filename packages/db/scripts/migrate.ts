/**
 * `pnpm db:migrate`: applies pending migrations to DATABASE_URL, or to the embedded PGlite under
 * NOA_DATA_DIR (default `.noa` in the directory pnpm was run from), as the apps do on start.
 */
import { resolve } from "node:path";
import { createDatabase } from "../src/create-database.js";
import { migrateDatabase } from "../src/migrate-database.js";

const cwd = process.env.INIT_CWD ?? process.cwd();
const database = await createDatabase({
  url: process.env.DATABASE_URL || undefined,
  dataDir: resolve(cwd, process.env.NOA_DATA_DIR ?? ".noa"),
});
try {
  const { applied } = await migrateDatabase(database);
  console.log(
    applied.length === 0 ? `${database.kind}: up to date` : `${database.kind}: applied ${applied.join(", ")}`,
  );
} finally {
  await database.close();
}
