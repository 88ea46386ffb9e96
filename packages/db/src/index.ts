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
export { createPrismaApiKeyStore, type PrismaApiKeyStoreOptions } from "./prisma-api-key-store.js";
export { createPrismaUsageStore } from "./prisma-usage-store.js";
