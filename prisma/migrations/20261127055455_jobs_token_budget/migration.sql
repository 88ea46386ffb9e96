-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "token_budget" JSONB;
