/**
 * A run's write changed nothing because a later run of its job has started: this run lost the job's lock
 * (Redis unreachable for longer than the lock lasts) while the write was on its way. The later run's
 * outcome is the one that stands; this run is stopped as for a lost lock.
 */
export class AttemptTakenOverError extends Error {
  readonly jobId: string;
  /** The run that wrote. */
  readonly run: number;
  /** The job's `attempts` when the write arrived: the run that has it now. */
  readonly laterRun: number;

  constructor(jobId: string, run: number, laterRun: number) {
    super(
      `job ${jobId}: run ${run} ended after run ${laterRun} had taken the job over; its write was dropped`,
    );
    this.name = "AttemptTakenOverError";
    this.jobId = jobId;
    this.run = run;
    this.laterRun = laterRun;
  }
}
