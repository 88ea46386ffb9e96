export { type CreateDatabaseOptions, createDatabase, type Database } from "./create-database.js";
export { Prisma, PrismaClient } from "./generated/prisma/client.js";
export type { Logger } from "./logger.js";
export {
  defaultMigrationsDir,
  type MigrateDatabaseOptions,
  type MigrateDatabaseResult,
  migrateDatabase,
} from "./migrate-database.js";
export { type PgConnectionConfig, parseDatabaseUrl } from "./parse-database-url.js";
export { createPgJobStore } from "./pg-job-store.js";
export { createPrismaApiKeyStore, type PrismaApiKeyStoreOptions } from "./prisma-api-key-store.js";
export {
  createPrismaCacheTier,
  type PrismaCacheTier,
  type PrismaCacheTierOptions,
  type PrismaCacheWrite,
} from "./prisma-cache-tier.js";
export { createPrismaUsageExportSource } from "./prisma-usage-export-source.js";
export { createPrismaUsageStore } from "./prisma-usage-store.js";
