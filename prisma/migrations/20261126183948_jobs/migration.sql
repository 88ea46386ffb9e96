-- CreateEnum
CREATE TYPE "job_priority" AS ENUM ('high', 'medium', 'low');

-- AlterEnum
-- This migration adds more than one value to an enum.
-- With PostgreSQL versions 11 and earlier, this is not possible
-- in a single migration. This can be worked around by creating
-- multiple migrations, each migration adding only one value to
-- the enum.


ALTER TYPE "job_state" ADD VALUE 'retrying';
ALTER TYPE "job_state" ADD VALUE 'dead_lettered';

-- DropIndex
DROP INDEX "jobs_tenant_created_at_idx";

-- AlterTable
ALTER TABLE "jobs" DROP COLUMN "error",
DROP COLUMN "payload",
ADD COLUMN     "api_key_id" TEXT,
ADD COLUMN     "correlation_id" TEXT NOT NULL,
ADD COLUMN     "error_code" TEXT,
ADD COLUMN     "error_message" TEXT,
ADD COLUMN     "error_retryable" BOOLEAN,
ADD COLUMN     "finished_at" TIMESTAMP(3),
ADD COLUMN     "max_attempts" INTEGER NOT NULL,
ADD COLUMN     "next_attempt_at" TIMESTAMP(3),
ADD COLUMN     "progress" DOUBLE PRECISION NOT NULL DEFAULT 0,
ADD COLUMN     "seq" BIGSERIAL NOT NULL,
ADD COLUMN     "spec" JSONB NOT NULL,
DROP COLUMN "priority",
ADD COLUMN     "priority" "job_priority" NOT NULL,
ALTER COLUMN "created_at" DROP DEFAULT;

-- CreateTable
CREATE TABLE "webhook_deliveries" (
    "id" UUID NOT NULL,
    "job_id" UUID NOT NULL,
    "attempt" INTEGER NOT NULL,
    "status_code" INTEGER NOT NULL,
    "error" TEXT,
    "delivered" BOOLEAN NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "webhook_deliveries_job_id_created_at_idx" ON "webhook_deliveries"("job_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "jobs_seq_key" ON "jobs"("seq");

-- CreateIndex
CREATE INDEX "jobs_tenant_seq_idx" ON "jobs"("tenant", "seq");

-- CreateIndex
CREATE INDEX "jobs_tenant_state_seq_idx" ON "jobs"("tenant", "state", "seq");

-- AddForeignKey
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;
