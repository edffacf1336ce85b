/**
 * ClusterOrder (qcow2's per-cluster ordering of asynchronous requests):
 * shared requests on one cluster run together, an exclusive one runs
 * alone on its clusters in arrival order, requests on other clusters are
 * never held up, and an exclusive request found to be shared lets the
 * ones behind it start.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ClusterOrder, type ClusterRequest } from "../../src/backends/block/qcow2/cluster-order.ts";

function req(log: string[], name: string, first: number, last: number, exclusive: boolean): ClusterRequest {
  return { first, last, exclusive, started: false, start: () => log.push(name) };
}

test("shared requests run together; an exclusive one waits for and holds back those on its clusters, in arrival order", () => {
  const order = new ClusterOrder();
  const log: string[] = [];
  const r1 = req(log, "read 0-1", 0, 1, false);
  const r2 = req(log, "read 1", 1, 1, false);
  const w = req(log, "write 1-2", 1, 2, true);
  const r3 = req(log, "read 2", 2, 2, false);
  const r4 = req(log, "read 5", 5, 5, false);
  const w2 = req(log, "write 2", 2, 2, true);
  for (const r of [r1, r2, w, r3, r4, w2]) order.add(r);
  assert.deepEqual(log, ["read 0-1", "read 1", "read 5"]);
  order.finish(r1);
  assert.deepEqual(log, ["read 0-1", "read 1", "read 5"], "the write still waits for the other read of cluster 1");
  order.finish(r2);
  assert.deepEqual(log.slice(3), ["write 1-2"]);
  order.finish(w);
  assert.deepEqual(log.slice(4), ["read 2"], "the later write on cluster 2 waits for the read that came before it");
  order.finish(r3);
  assert.deepEqual(log.slice(5), ["write 2"]);
  order.finish(r4);
  order.finish(w2);
  assert.equal(order.size, 0);
});

test("an exclusive request found to be shared (a write in place) lets shared ones behind it start; a request finishing inside start is handled", () => {
  const order = new ClusterOrder();
  const log: string[] = [];
  const w = req(log, "write 3", 3, 3, true);
  const r = req(log, "read 3", 3, 3, false);
  order.add(w);
  order.add(r);
  assert.deepEqual(log, ["write 3"]);
  order.relax(w);
  assert.deepEqual(log, ["write 3", "read 3"]);
  // A request that completes synchronously from start (a zero read) finishes inside the pump.
  const instant: ClusterRequest = { first: 9, last: 9, exclusive: true, started: false, start: () => (log.push("instant"), order.finish(instant)) };
  const after = req(log, "after", 9, 9, false);
  order.add(instant);
  order.add(after);
  assert.deepEqual(log.slice(2), ["instant", "after"]);
});
