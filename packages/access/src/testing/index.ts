/** Test support other packages import (`@noa/access/testing`); imports vitest. */
export {
  type ApiKeyStoreSubject,
  describeApiKeyStoreContract,
  newApiKeyRecord,
} from "../auth/api-key-store-contract.js";
