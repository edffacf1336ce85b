/**
 * The host-wide budget of guest RAM and vCPUs: the host's memory and cores
 * times an overcommit ratio. A VM holds its share from start until its
 * worker ends; a start that would exceed the budget is refused
 * (over_budget), so the daemon never promises more than it was told to.
 */
import { HypervisorError } from "./errors.ts";

export interface BudgetLimits {
  memoryBytes: number;
  vcpus: number;
  overcommitRatio: number;
}

export class Budget {
  private readonly held = new Map<string, { memoryBytes: number; vcpus: number }>();

  constructor(readonly limits: BudgetLimits) {}

  get used(): { memoryBytes: number; vcpus: number } {
    let memoryBytes = 0;
    let vcpus = 0;
    for (const share of this.held.values()) {
      memoryBytes += share.memoryBytes;
      vcpus += share.vcpus;
    }
    return { memoryBytes, vcpus };
  }

  /** Whether a VM of this size could ever run here (checked at create and update). */
  fitsAlone(memoryBytes: number, vcpus: number): boolean {
    return memoryBytes <= this.limits.memoryBytes && vcpus <= this.limits.vcpus;
  }

  /** Holds a share for `vm`; throws over_budget if it does not fit beside the others. */
  reserve(vm: string, memoryBytes: number, vcpus: number): void {
    const used = this.used;
    const { limits } = this;
    if (used.memoryBytes + memoryBytes > limits.memoryBytes || used.vcpus + vcpus > limits.vcpus) {
      throw new HypervisorError(
        "over_budget",
        `VM ${vm} needs ${memoryBytes / 2 ** 20} MiB and ${vcpus} vCPUs but the host budget has ` +
          `${(limits.memoryBytes - used.memoryBytes) / 2 ** 20} MiB and ${limits.vcpus - used.vcpus} vCPUs left ` +
          `(overcommit ratio ${limits.overcommitRatio})`,
      );
    }
    this.held.set(vm, { memoryBytes, vcpus });
  }

  release(vm: string): void {
    this.held.delete(vm);
  }
}
