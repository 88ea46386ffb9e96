-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "usage_status" AS ENUM ('ok', 'error', 'cancelled');

-- CreateEnum
CREATE TYPE "job_state" AS ENUM ('queued', 'active', 'completed', 'failed', 'cancelled');

-- CreateTable
CREATE TABLE "api_keys" (
    "id" TEXT NOT NULL,
    "seq" BIGSERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "tenant" TEXT NOT NULL,
    "scopes" TEXT[],
    "allowed_models" TEXT[],
    "request_burst" INTEGER,
    "requests_per_second" DOUBLE PRECISION,
    "tokens_per_minute" INTEGER,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMP(3),
    "revoked_at" TIMESTAMP(3),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "usage_records" (
    "id" UUID NOT NULL,
    "api_key_id" TEXT,
    "tenant" TEXT NOT NULL,
    "model_requested" TEXT NOT NULL,
    "provider" TEXT,
    "model_served" TEXT,
    "prompt_tokens" INTEGER NOT NULL,
    "completion_tokens" INTEGER NOT NULL,
    "cost_usd" DECIMAL(20,10) NOT NULL,
    "cached" BOOLEAN NOT NULL,
    "cache_tier" TEXT,
    "status" "usage_status" NOT NULL,
    "error_code" TEXT,
    "latency_ms" INTEGER NOT NULL,
    "correlation_id" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "usage_records_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "jobs" (
    "id" UUID NOT NULL,
    "tenant" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "priority" INTEGER NOT NULL DEFAULT 0,
    "state" "job_state" NOT NULL DEFAULT 'queued',
    "payload" JSONB NOT NULL,
    "result" JSONB,
    "error" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "idempotency_key" TEXT,
    "callback_url" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "jobs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "cache_entries" (
    "key" TEXT NOT NULL,
    "tenant" TEXT NOT NULL,
    "value" JSONB NOT NULL,
    "expires_at" TIMESTAMP(3) NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "cache_entries_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_seq_key" ON "api_keys"("seq");

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_prefix_key" ON "api_keys"("prefix");

-- CreateIndex
CREATE INDEX "api_keys_tenant_seq_idx" ON "api_keys"("tenant", "seq");

-- CreateIndex
CREATE INDEX "usage_records_tenant_created_at_idx" ON "usage_records"("tenant", "created_at");

-- CreateIndex
CREATE INDEX "usage_records_api_key_id_created_at_idx" ON "usage_records"("api_key_id", "created_at");

-- CreateIndex
CREATE INDEX "jobs_tenant_created_at_idx" ON "jobs"("tenant", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "jobs_tenant_idempotency_key_key" ON "jobs"("tenant", "idempotency_key");

-- CreateIndex
CREATE INDEX "cache_entries_expires_at_idx" ON "cache_entries"("expires_at");

