/**
 * Long operations (clone, image import/clone) run as jobs: the API answers
 * 202 with the job at once and the caller polls GET /v1/jobs/{id} (or
 * watches "job" events). Jobs live in memory; finished ones are forgotten
 * after an hour. A job's work reports progress 0..1.
 */
import { randomUUID } from "node:crypto";
import type { EventBus } from "./events.ts";
import type { JobView } from "./model.ts";

const KEEP_FINISHED_MS = 3600_000;

export class Jobs {
  private readonly jobs = new Map<string, JobView>();

  constructor(private readonly events: EventBus) {}

  get(id: string): JobView | undefined {
    return this.jobs.get(id);
  }

  /** Starts `work` and returns its job (state running). `work` reports progress through its argument. */
  run(kind: string, vm: string | undefined, work: (progress: (fraction: number) => void) => Promise<unknown>): JobView {
    const job: JobView = { id: randomUUID(), kind, state: "running", progress: 0, ...(vm === undefined ? {} : { vm }) };
    this.jobs.set(job.id, job);
    this.publish(job);
    let lastReported = 0;
    const progress = (fraction: number) => {
      job.progress = Math.max(0, Math.min(1, fraction));
      if (job.progress - lastReported >= 0.05) {
        lastReported = job.progress;
        this.publish(job);
      }
    };
    work(progress).then(
      (result) => this.finish(job, { state: "succeeded", progress: 1, result }),
      (e: Error) => this.finish(job, { state: "failed", error: e?.message ?? String(e) }),
    );
    return { ...job };
  }

  private finish(job: JobView, outcome: Partial<JobView>): void {
    Object.assign(job, outcome);
    this.publish(job);
    setTimeout(() => this.jobs.delete(job.id), KEEP_FINISHED_MS).unref();
  }

  private publish(job: JobView): void {
    this.events.publish({ type: "job", vm: job.vm, job: { ...job } });
  }
}
