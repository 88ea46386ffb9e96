/** How one attempt of a job ended (`released`: handed back on shutdown; `lock_lost`: its worker lost the job's lock). */
export type JobOutcome =
  | "completed"
  | "failed"
  | "retrying"
  | "dead_lettered"
  | "cancelled"
  | "released"
  | "lock_lost";

/** Told of every job attempt's end and every webhook delivery attempt (the worker turns them into metrics). */
export interface JobObserver {
  attempt(outcome: JobOutcome, type: string, seconds: number): void;
  webhook(delivered: boolean): void;
}
