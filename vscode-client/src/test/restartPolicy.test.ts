import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoffDelay, DEFAULT_RESTART_POLICY, describeExit, RestartPolicy, TailBuffer } from "../restartPolicy";

const options = { maxRestarts: 3, initialDelayMs: 1000, maxDelayMs: 3000, factor: 2, stableAfterMs: 60_000 };

describe("RestartPolicy", () => {
    it("backs off exponentially and gives up after maxRestarts", () => {
        const policy = new RestartPolicy(options);
        assert.deepEqual(policy.crashed(0), { restart: true, delayMs: 1000, attempt: 1, of: 3 });
        assert.deepEqual(policy.crashed(10), { restart: true, delayMs: 2000, attempt: 2, of: 3 });
        assert.deepEqual(policy.crashed(20), { restart: true, delayMs: 3000, attempt: 3, of: 3 });
        assert.deepEqual(policy.crashed(30), { restart: false, attempts: 3 });
        assert.deepEqual(policy.crashed(40), { restart: false, attempts: 3 });
    });

    it("counts a crash soon after a successful start as part of the streak", () => {
        const policy = new RestartPolicy(options);
        policy.crashed(0);
        policy.started(1_000);
        assert.equal(policy.crashed(2_000).restart && policy.attempts, 2);
    });

    it("starts a new streak after the server stayed up long enough", () => {
        const policy = new RestartPolicy(options);
        policy.crashed(0);
        policy.crashed(1);
        policy.started(1_000);
        assert.deepEqual(policy.crashed(61_000), { restart: true, delayMs: 1000, attempt: 1, of: 3 });
    });

    it("starts a new streak when the user restarts", () => {
        const policy = new RestartPolicy(options);
        for (let i = 0; i < 4; i++) {
            policy.crashed(i);
        }
        policy.reset();
        assert.equal(policy.attempts, 0);
        assert.equal(policy.crashed(10).restart, true);
    });

    it("never restarts when maxRestarts is 0", () => {
        assert.deepEqual(new RestartPolicy({ ...options, maxRestarts: 0 }).crashed(0), { restart: false, attempts: 0 });
    });

    it("has sane defaults", () => {
        assert.deepEqual(
            [1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, DEFAULT_RESTART_POLICY)),
            [1000, 2000, 4000, 8000, 16000, 30000, 30000],
        );
    });
});

describe("TailBuffer", () => {
    it("keeps the last lines across chunk boundaries", () => {
        const tail = new TailBuffer(2);
        tail.push("one\ntw");
        tail.push("o\r\nthree\n\nfou");
        assert.equal(tail.text(), "three\nfou");
        assert.equal(tail.lastLine(), "fou");
        tail.push("r\n");
        assert.equal(tail.lastLine(), "four");
        assert.equal(new TailBuffer().lastLine(), undefined);
    });
});

describe("describeExit", () => {
    it("names the phase, the exit and the last error line", () => {
        assert.equal(
            describeExit("start", { code: 1, signal: null }, "ImportError: boom"),
            "The dspy-lsp server exited while starting (exit code 1): ImportError: boom",
        );
        assert.equal(
            describeExit("running", { code: null, signal: "SIGKILL" }, undefined),
            "The dspy-lsp server stopped unexpectedly (signal SIGKILL)",
        );
        assert.equal(describeExit("running", undefined, undefined), "The dspy-lsp server stopped unexpectedly");
        assert.ok(describeExit("start", undefined, "x".repeat(500)).length < 300);
    });
});
