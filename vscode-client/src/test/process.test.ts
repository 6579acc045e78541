import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { classifyImportCheck } from "../interpreter";
import { runProcess } from "../process";

// The import check's plumbing, with node standing in for python.
describe("runProcess", () => {
    it("reports exit code and stderr, and streams output", async () => {
        const chunks: string[] = [];
        const outcome = await runProcess(
            process.execPath,
            ["-e", "console.log('out'); console.error(\"ModuleNotFoundError: No module named 'dspy_lsp'\"); process.exit(1)"],
            { onOutput: (chunk) => chunks.push(chunk) },
        );
        assert.equal(outcome.exitCode, 1);
        assert.match(outcome.stderr, /No module named 'dspy_lsp'/);
        assert.match(chunks.join(""), /out/);
        assert.equal(classifyImportCheck("node", outcome).kind, "missing-package");
    });

    it("reports a missing executable as a spawn error", async () => {
        const outcome = await runProcess("/definitely/not/a/python", ["-c", "pass"]);
        assert.equal(outcome.spawnError, "ENOENT");
        assert.equal(classifyImportCheck("/definitely/not/a/python", outcome).kind, "no-interpreter");
    });

    it("kills a process that runs too long", async () => {
        const outcome = await runProcess(process.execPath, ["-e", "setTimeout(() => {}, 10000)"], { timeoutMs: 200 });
        assert.equal(outcome.timedOut, true);
        assert.equal(classifyImportCheck("node", outcome).kind, "failed");
    });
});
