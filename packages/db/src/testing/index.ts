export {
  type CreateTestDatabaseOptions,
  createTestDatabase,
  defaultTestAdminUrl,
  type TestDatabase,
} from "./create-test-database.js";
