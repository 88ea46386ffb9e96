import type { KeyLimits, Scope } from "./principal.js";

/** An API key as stored: never the key itself, only its hash. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  /** The key's public part (e.g. `noa_3fA9x2Lk`), unique, shown in lists and used to find the record. */
  prefix: string;
  /** Hash of the whole key (hex), compared in constant time. */
  hash: string;
  tenant: string;
  scopes: Scope[];
  allowedModels: string[];
  limits: KeyLimits;
  createdAt: Date;
  lastUsedAt: Date | undefined;
  revokedAt: Date | undefined;
  /** When the key stops working; undefined: never. */
  expiresAt: Date | undefined;
}

/** Persistence of API keys; implemented over Prisma in @noa/db, in memory for unit tests. */
export interface ApiKeyStore {
  /** Stores a new key; the store sets `createdAt`, and an absent `expiresAt` means never. */
  create(
    record: Omit<ApiKeyRecord, "createdAt" | "lastUsedAt" | "revokedAt" | "expiresAt"> & { expiresAt?: Date },
  ): Promise<ApiKeyRecord>;
  findByPrefix(prefix: string): Promise<ApiKeyRecord | undefined>;
  /** Newest first; `cursor` is the previous page's `nextCursor`. */
  list(filter: {
    tenant?: string;
    includeRevoked: boolean;
    limit: number;
    cursor?: string;
  }): Promise<{ keys: ApiKeyRecord[]; nextCursor: string | undefined }>;
  /** Sets revokedAt (keeps an earlier one); undefined when there is no such key. */
  revoke(id: string, at: Date): Promise<ApiKeyRecord | undefined>;
  /** Records use; callers throttle it (at most once a minute per key). */
  touch(id: string, at: Date): Promise<void>;
  /** Whether any key with the admin scope is neither revoked nor expired at `at` (first-start bootstrap). */
  hasActiveAdmin(at: Date): Promise<boolean>;
}
