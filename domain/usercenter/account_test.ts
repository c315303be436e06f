import assert from "node:assert/strict";
import { fold } from "../shared/decider.ts";
import { scenario } from "../shared/scenario.ts";
import { canSignIn, noUser, type UserCommand, userDecider, type UserFact } from "./account.ts";

const at = new Date("2024-05-01T12:00:00.000Z");
const later = new Date("2024-05-02T08:30:00.000Z");

const { given } = scenario(userDecider);
const registered: UserFact = {
  kind: "registered",
  userId: "7",
  username: "ada",
  email: "ada@example.com",
  role: "user",
  at,
};
const named: UserFact = {
  kind: "updated",
  userId: "7",
  changed: ["displayName", "bio"],
  username: "ada",
  profile: { displayName: "Ada", bio: "engines" },
  at,
};
const suspended: UserFact = { kind: "status-changed", userId: "7", from: "active", to: "suspended", at };
const deleted: UserFact = { kind: "deleted", userId: "7", at };

const register: UserCommand = {
  kind: "register",
  id: "7",
  username: "ada",
  email: "ada@example.com",
  role: "user",
  at,
};

/** The token version after `history`. */
function tokenVersionAfter(history: readonly UserFact[]): number {
  return fold(userDecider, userDecider.initialState, history).tokenVersion;
}

Deno.test("userDecider: registering a new account records who registered, with which role", () => {
  given([]).when(register).then([registered]);
  given([]).when({ ...register, id: "8", username: "root", role: "admin" }).then([
    { ...registered, userId: "8", username: "root", role: "admin" },
  ]);
});

Deno.test("userDecider: registering an account that exists is refused as already-registered", () => {
  given([registered]).when(register).then("already-registered");
  given([registered, deleted]).when(register).then("already-registered");
});

Deno.test("userDecider: any change of an account that does not exist is refused as not-found", () => {
  for (
    const command of [
      { kind: "update", username: "grace", profile: {}, at },
      { kind: "change-password", at },
      { kind: "change-status", status: "suspended", at },
      { kind: "delete", at },
    ] satisfies UserCommand[]
  ) {
    given([]).when(command).then("not-found");
  }
});

Deno.test("userDecider: an update that changes nothing records no event", () => {
  given([registered]).when({ kind: "update", profile: {}, at: later }).then([]);
  given([registered]).when({ kind: "update", username: "ada", profile: {}, at: later }).then([]);
  given([registered, named]).when({
    kind: "update",
    username: "ada",
    profile: { displayName: "Ada", bio: "engines" },
    at: later,
  }).then([]);
  // a field left out (undefined) is not a change either
  given([registered, named]).when({ kind: "update", profile: { bio: undefined }, at: later }).then([]);
});

Deno.test("userDecider: an update lists the fields it changed and carries the whole new profile", () => {
  given([registered, named]).when({
    kind: "update",
    username: "countess",
    profile: { displayName: "Ada", bio: "analytical engines" },
    at: later,
  }).then([{
    kind: "updated",
    userId: "7",
    changed: ["username", "bio"],
    username: "countess",
    profile: { displayName: "Ada", bio: "analytical engines" },
    at: later,
  }]);
  // clearing a field is a change; the fields not mentioned keep their value
  given([registered, named]).when({ kind: "update", profile: { bio: null }, at: later }).then([{
    kind: "updated",
    userId: "7",
    changed: ["bio"],
    username: "ada",
    profile: { displayName: "Ada", bio: null },
    at: later,
  }]);
});

Deno.test("userDecider: changing the status to the one the account has records no event", () => {
  given([registered]).when({ kind: "change-status", status: "active", at: later }).then([]);
  given([registered, suspended]).when({ kind: "change-status", status: "suspended", at: later }).then([]);
});

Deno.test("userDecider: a status change records from and to, and ends the tokens issued before it", () => {
  given([registered]).when({ kind: "change-status", status: "suspended", at: later }).then([
    { kind: "status-changed", userId: "7", from: "active", to: "suspended", at: later },
  ]);
  given([registered, suspended]).when({ kind: "change-status", status: "active", at: later }).then([
    { kind: "status-changed", userId: "7", from: "suspended", to: "active", at: later },
  ]);

  assert.equal(tokenVersionAfter([registered]), 0);
  assert.equal(tokenVersionAfter([registered, suspended]), 1);
  const reactivated: UserFact = { ...suspended, from: "suspended", to: "active" };
  assert.equal(tokenVersionAfter([registered, suspended, reactivated]), 2);
});

Deno.test("userDecider: a password change is recorded and ends the tokens issued before it", () => {
  given([registered]).when({ kind: "change-password", at: later }).then([
    { kind: "password-changed", userId: "7", at: later },
  ]);
  const changed: UserFact = { kind: "password-changed", userId: "7", at: later };
  assert.equal(tokenVersionAfter([registered, changed]), 1);
  assert.equal(tokenVersionAfter([registered, changed, changed]), 2);
  // a profile update is no credential change
  assert.equal(tokenVersionAfter([registered, named]), 0);
});

Deno.test("userDecider: a suspended account may still be updated, its password changed and deleted", () => {
  given([registered, suspended]).when({ kind: "update", profile: { bio: "x" }, at: later }).then([
    { kind: "updated", userId: "7", changed: ["bio"], username: "ada", profile: { bio: "x" }, at: later },
  ]);
  given([registered, suspended]).when({ kind: "change-password", at: later }).then([
    { kind: "password-changed", userId: "7", at: later },
  ]);
  given([registered, suspended]).when({ kind: "delete", at: later }).then([
    { kind: "deleted", userId: "7", at: later },
  ]);
});

Deno.test("userDecider: deleting records the deletion; the account is deleted and its tokens end", () => {
  given([registered]).when({ kind: "delete", at: later }).then([{ kind: "deleted", userId: "7", at: later }]);
  const state = fold(userDecider, userDecider.initialState, [registered, deleted]);
  assert.equal(state.status, "deleted");
  assert.equal(state.tokenVersion, 1);
  assert.equal(canSignIn(state.status), false);
});

Deno.test("userDecider: anything asked of a deleted account is refused as deleted", () => {
  for (
    const command of [
      { kind: "update", username: "grace", profile: { bio: "x" }, at: later },
      { kind: "update", profile: {}, at: later },
      { kind: "change-password", at: later },
      { kind: "change-status", status: "active", at: later },
      { kind: "change-status", status: "suspended", at: later },
      { kind: "delete", at: later },
    ] satisfies UserCommand[]
  ) {
    given([registered, deleted]).when(command).then("deleted");
    given([registered, suspended, deleted]).when(command).then("deleted");
  }
});

Deno.test("userDecider: evolve builds the registered account from noUser, active with token version 0", () => {
  assert.deepEqual(userDecider.initialState, noUser);
  assert.deepEqual(fold(userDecider, noUser, [registered, named]), {
    exists: true,
    id: "7",
    username: "ada",
    email: "ada@example.com",
    status: "active",
    role: "user",
    tokenVersion: 0,
    profile: { displayName: "Ada", bio: "engines" },
  });
});

Deno.test("canSignIn: only an active account signs in", () => {
  assert.equal(canSignIn("active"), true);
  assert.equal(canSignIn("suspended"), false);
  assert.equal(canSignIn("deleted"), false);
});
