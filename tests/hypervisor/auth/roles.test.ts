import { test } from "node:test";
import assert from "node:assert/strict";
import { can, OWNER, type Permission, type Principal, type Role, type Scope } from "../../../src/hypervisor/auth/index.ts";

const who = (role: Role, scope: Scope = "*"): Principal => ({ tokenId: "0123456789abcdef", name: "t", role, scope });

test("viewer reads everything and watches consoles, changes nothing", () => {
  const v = who("viewer");
  for (const p of ["vm.read", "vm.console", "image.read", "net.read", "token.read", "host.read", "audit.read"] as Permission[])
    assert.equal(can(v, p, "web1"), true, p);
  for (const p of ["vm.power", "vm.create", "vm.delete", "vm.console.write", "vm.snapshot", "token.write", "image.write", "net.write"] as Permission[])
    assert.equal(can(v, p, "web1"), false, p);
});

test("operator runs VMs and makes tokens but does not create, delete or reconfigure", () => {
  const o = who("operator");
  for (const p of ["vm.power", "vm.snapshot", "vm.clone", "vm.console.write", "token.write"] as Permission[]) assert.equal(can(o, p, "web1"), true, p);
  for (const p of ["vm.create", "vm.update", "vm.delete", "image.write", "net.write"] as Permission[]) assert.equal(can(o, p, "web1"), false, p);
});

test("admin and the socket owner may do everything", () => {
  for (const p of ["vm.create", "vm.delete", "image.write", "net.write", "audit.read", "token.write"] as Permission[]) {
    assert.equal(can(who("admin"), p, "x"), true);
    assert.equal(can(OWNER, p), true);
  }
});

test("a scope limits vm.* permissions to its VMs and makes shared resources read-only", () => {
  const a = who("admin", ["web1", "web2"]);
  assert.equal(can(a, "vm.power", "web1"), true);
  assert.equal(can(a, "vm.delete", "web2"), true);
  assert.equal(can(a, "vm.power", "db"), false);
  assert.equal(can(a, "vm.read", "db"), false);
  assert.equal(can(a, "vm.read"), true, "listing is allowed and filtered by the caller");
  assert.equal(can(a, "vm.create"), false, "a vm.* write without a name is refused");
  assert.equal(can(a, "image.read"), true);
  assert.equal(can(a, "image.write"), false);
  assert.equal(can(a, "net.write"), false);
  assert.equal(can(a, "host.read"), true);
  assert.equal(can(a, "audit.read"), false, "the audit log names VMs outside the scope");
});

test("an unknown role or a prototype name grants nothing", () => {
  for (const role of ["root", "__proto__", "constructor", "", "ADMIN"])
    assert.equal(can({ tokenId: "x", name: "x", role: role as Role, scope: "*" }, "vm.read"), false, role);
});

test("a scoped operator may manage tokens (narrowed by the store) but not read the audit log", () => {
  const o = who("operator", ["web1"]);
  assert.equal(can(o, "token.write"), true);
  assert.equal(can(o, "token.read"), true);
  assert.equal(can(o, "audit.read"), false);
});
