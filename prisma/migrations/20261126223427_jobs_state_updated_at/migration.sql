-- CreateIndex
CREATE INDEX "jobs_state_updated_at_idx" ON "jobs"("state", "updated_at");
