/**
 * Long operations (clone, image import) answer 202 with a job; the CLI polls
 * it until it ends, drawing a progress bar on a terminal.
 */
import cliProgress from "cli-progress";
import { CliError } from "../cli-error.ts";
import type { JobView as Job } from "../../hypervisor/model.ts";
import type { ApiClient } from "./api-client.ts";

const POLL_MS = 200;

/** A 202 answer `{job}` or a finished resource: the job, when there is one. */
export function jobOf(answer: unknown): Job | null {
  const job = (answer as { job?: Job } | null)?.job;
  return job && typeof job.id === "string" ? job : null;
}

export async function waitForJob(client: ApiClient, job: Job, options: { label: string; bar: boolean }): Promise<Job> {
  const bar = options.bar
    ? new cliProgress.SingleBar({ format: `${options.label} [{bar}] {percentage}%`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic)
    : null;
  bar?.start(100, 0);
  try {
    let current = job;
    while (current.state === "running") {
      bar?.update(Math.round(Math.max(0, Math.min(1, current.progress ?? 0)) * 100));
      await new Promise((r) => setTimeout(r, POLL_MS));
      current = await client.get<Job>(`/v1/jobs/${encodeURIComponent(current.id)}`);
    }
    if (current.state === "succeeded") bar?.update(100);
    bar?.stop();
    if (current.state === "failed") {
      throw new CliError(`${options.label} failed: ${current.error ?? "no reason given"}`);
    }
    return current;
  } catch (e) {
    bar?.stop();
    throw e;
  }
}
