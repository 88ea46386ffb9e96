import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type ApiKey,
  CreateApiKeyResponseSchema,
  ListApiKeysResponseSchema,
  RevokeApiKeyResponseSchema,
  Scope,
} from "@noa/proto";
import { type Command, InvalidArgumentError } from "commander";
import pc from "picocolors";
import type { CliContext } from "../cli-context.js";
import { formatTable } from "../format-table.js";
import { formatTime } from "../format-time.js";
import { parseExpiry } from "../parse-expiry.js";
import { finiteNumber, integerIn, uint32Max } from "../parse-number.js";
import { printJson } from "../print-json.js";

const scopes: Record<string, Scope> = {
  inference: Scope.INFERENCE,
  "models:read": Scope.MODELS_READ,
  jobs: Scope.JOBS,
  admin: Scope.ADMIN,
};
const scopeNames = new Map(Object.entries(scopes).map(([name, scope]) => [scope, name]));

function collectScope(raw: string, previous: Scope[] = []): Scope[] {
  const added = raw.split(",").map((name) => {
    const scope = scopes[name.trim()];
    if (scope === undefined) {
      throw new InvalidArgumentError(
        `unknown scope "${name}"; choose from ${Object.keys(scopes).join(", ")}.`,
      );
    }
    return scope;
  });
  return [...previous, ...added];
}

function collect(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(",")
      .map((item) => item.trim())
      .filter(Boolean),
  ];
}

interface CreateOptions {
  name: string;
  tenant: string;
  scope: Scope[];
  model?: string[];
  burst?: number;
  rps?: number;
  tpm?: number;
  expires?: Date;
}

/** `noa keys [create | ls | revoke ID]` (admin keys only). */
export function registerKeys(program: Command, context: CliContext): void {
  const keys = program.command("keys").description("create, list and revoke API keys (needs an admin key)");

  keys
    .command("create")
    .description("create a key; it is printed once and only its hash is stored")
    .requiredOption("--name <name>", "a name to recognise the key by")
    .requiredOption("--tenant <tenant>", "the tenant whose usage and jobs the key sees")
    .requiredOption(
      "--scope <scope>",
      `what the key may do (repeat or comma-separate): ${Object.keys(scopes).join(", ")}`,
      collectScope,
    )
    .option(
      "--model <id>",
      "a model, alias or provider/* the key may call (repeatable); default: all",
      collect,
    )
    .option("--burst <n>", "request burst (token bucket size)", integerIn(1, uint32Max))
    .option("--rps <n>", "requests per second", finiteNumber)
    .option("--tpm <n>", "tokens per minute (0: no token limit)", integerIn(0, uint32Max))
    .option(
      "--expires <when>",
      "when the key stops working: a duration from now (90m, 12h, 30d) or an RFC 3339 time " +
        "(2030-01-01T00:00:00Z); default: never (required when your own key or token expires)",
      (raw: string) => parseExpiry(raw, Date.now()),
    )
    .action(async (options: CreateOptions) => {
      const response = await context.client().apiKeys.createApiKey({
        name: options.name,
        tenant: options.tenant,
        scopes: options.scope,
        allowedModels: options.model ?? [],
        rateLimit: {
          requestBurst: options.burst,
          requestsPerSecond: options.rps,
          tokensPerMinute: options.tpm,
        },
        expireTime: options.expires && timestampFromDate(options.expires),
      });
      if (context.options().json) return printJson(context.stdout, CreateApiKeyResponseSchema, response);
      context.stdout.write(`${response.key}\n`);
      context.stderr.write(
        pc.dim(
          `created key ${response.apiKey?.id} (${response.apiKey?.prefix}) for tenant ${response.apiKey?.tenant}` +
            (response.apiKey?.expireTime ? `, expiring ${formatTime(response.apiKey.expireTime)} UTC` : "") +
            "; store it now: it is not shown again\n",
        ),
      );
    });

  keys
    .command("ls", { isDefault: true })
    .alias("list")
    .description("list keys, newest first (never their secrets)")
    .option("--tenant <tenant>", "only this tenant's keys")
    .option("--all", "include revoked keys")
    .action(async (options: { tenant?: string; all?: boolean }) => {
      const client = context.client();
      const found: ApiKey[] = [];
      let pageToken = "";
      do {
        const page = await client.apiKeys.listApiKeys({
          tenant: options.tenant ?? "",
          includeRevoked: options.all ?? false,
          pageSize: 500,
          pageToken,
        });
        found.push(...page.apiKeys);
        pageToken = page.nextPageToken;
      } while (pageToken);
      if (context.options().json) {
        return printJson(
          context.stdout,
          ListApiKeysResponseSchema,
          create(ListApiKeysResponseSchema, { apiKeys: found }),
        );
      }
      context.stdout.write(
        formatTable(
          ["ID", "NAME", "PREFIX", "TENANT", "SCOPES", "CREATED", "EXPIRES", "LAST USED", "REVOKED"],
          found.map((key) => [
            key.id,
            key.name,
            key.prefix,
            key.tenant,
            key.scopes.map((scope) => scopeNames.get(scope) ?? String(scope)).join(","),
            formatTime(key.createTime),
            formatTime(key.expireTime),
            formatTime(key.lastUsedTime),
            formatTime(key.revokeTime),
          ]),
        ),
      );
    });

  keys
    .command("revoke")
    .description("revoke a key: it stops working (on other replicas within their key cache TTL)")
    .argument("<id>", "the key's id (see `noa keys ls`)")
    .action(async (id: string) => {
      const response = await context.client().apiKeys.revokeApiKey({ id });
      if (context.options().json) return printJson(context.stdout, RevokeApiKeyResponseSchema, response);
      context.stdout.write(
        `revoked ${response.apiKey?.id} (${response.apiKey?.prefix}, ${response.apiKey?.name})\n`,
      );
    });
}
