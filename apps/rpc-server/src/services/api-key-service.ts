import { create } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  AccessError,
  type ApiKeyRecord,
  type ApiKeyService as ApiKeys,
  type Authenticator,
  requireScope,
  type Scope,
} from "@noa/access";
import {
  type ApiKey,
  ApiKeySchema,
  type ApiKeyService,
  CreateApiKeyResponseSchema,
  ListApiKeysResponseSchema,
  Scope as ProtoScope,
  RevokeApiKeyResponseSchema,
} from "@noa/proto";
import { principalOf } from "../request-context.js";

const toScope: Record<ProtoScope, string> = {
  // Passed on as is so the access layer refuses it with its own message.
  [ProtoScope.UNSPECIFIED]: "SCOPE_UNSPECIFIED",
  [ProtoScope.INFERENCE]: "inference",
  [ProtoScope.MODELS_READ]: "models:read",
  [ProtoScope.JOBS]: "jobs",
  [ProtoScope.ADMIN]: "admin",
};
const fromScope: Record<Scope, ProtoScope> = {
  inference: ProtoScope.INFERENCE,
  "models:read": ProtoScope.MODELS_READ,
  jobs: ProtoScope.JOBS,
  admin: ProtoScope.ADMIN,
};

// google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
const minTimestampSeconds = -62_135_596_800n;
const maxTimestampSeconds = 253_402_300_799n;

/**
 * ApiKeyService over the access layer's key service; every RPC needs the admin scope, and a new key may not
 * exceed the credential that creates it (model allow-list, limits, and expiry: a JWT's keys must expire by
 * its `exp`). A revoked key stops working on this replica at once, on others within the authenticator's
 * cache TTL; an expired one everywhere at its expire_time.
 */
export function createApiKeyRpcService({
  apiKeys,
  authenticator,
}: {
  apiKeys: ApiKeys;
  authenticator: Pick<Authenticator, "forget">;
}): ServiceImpl<typeof ApiKeyService> {
  return {
    async createApiKey(request, context) {
      const creator = principalOf(context.values);
      requireScope(creator, "admin");
      const limits = request.rateLimit;
      const { record, key } = await apiKeys.create({
        creator,
        name: request.name,
        tenant: request.tenant,
        scopes: request.scopes.map((scope) => toScope[scope] ?? String(scope)),
        allowedModels: request.allowedModels,
        limits: {
          requestBurst: limits?.requestBurst,
          requestsPerSecond: limits?.requestsPerSecond,
          tokensPerMinute: limits?.tokensPerMinute,
        },
        expiresAt: request.expireTime && expiryOf(request.expireTime),
      });
      return create(CreateApiKeyResponseSchema, { apiKey: toProtoApiKey(record), key });
    },
    async listApiKeys(request, context) {
      requireScope(principalOf(context.values), "admin");
      const { keys, nextCursor } = await apiKeys.list({
        tenant: request.tenant || undefined,
        includeRevoked: request.includeRevoked,
        limit: request.pageSize,
        cursor: request.pageToken || undefined,
      });
      return create(ListApiKeysResponseSchema, {
        apiKeys: keys.map(toProtoApiKey),
        nextPageToken: nextCursor ?? "",
      });
    },
    async revokeApiKey(request, context) {
      requireScope(principalOf(context.values), "admin");
      const record = await apiKeys.revoke(request.id);
      authenticator.forget(record.id);
      return create(RevokeApiKeyResponseSchema, { apiKey: toProtoApiKey(record) });
    },
  };
}

function toProtoApiKey(record: ApiKeyRecord): ApiKey {
  return create(ApiKeySchema, {
    id: record.id,
    name: record.name,
    prefix: record.prefix,
    tenant: record.tenant,
    scopes: record.scopes.map((scope) => fromScope[scope]),
    allowedModels: record.allowedModels,
    rateLimit: {
      requestBurst: record.limits.requestBurst,
      requestsPerSecond: record.limits.requestsPerSecond,
      tokensPerMinute: record.limits.tokensPerMinute,
    },
    createTime: timestampFromDate(record.createdAt),
    lastUsedTime: record.lastUsedAt && timestampFromDate(record.lastUsedAt),
    revokeTime: record.revokedAt && timestampFromDate(record.revokedAt),
    expireTime: record.expiresAt && timestampFromDate(record.expiresAt),
  });
}

/** A request's expire_time as a Date, refusing what is no valid Timestamp (a binary message may carry any). */
function expiryOf(timestamp: Timestamp): Date {
  const { seconds, nanos } = timestamp;
  if (seconds < minTimestampSeconds || seconds > maxTimestampSeconds || nanos < 0 || nanos > 999_999_999) {
    throw new AccessError(
      "invalid-argument",
      "expire_time is not a valid google.protobuf.Timestamp (seconds within years 0001 to 9999, nanos " +
        "from 0 to 999999999): send a time in the future, e.g. 2030-01-01T00:00:00Z",
    );
  }
  return timestampDate(timestamp);
}
