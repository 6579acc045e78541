import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
    classifyImportCheck,
    cliArgs,
    defaultPython,
    expandVariables,
    type InterpreterProbes,
    resolveInterpreter,
    serverArgs,
} from "../interpreter";

const context = { workspaceFolder: "/ws", home: "/home/me", env: { VENV: "/venvs/a" } };

function probes(setting: string | undefined, extension: () => Promise<string | undefined>): InterpreterProbes & { calls: string[] } {
    const calls: string[] = [];
    return {
        calls,
        setting: () => {
            calls.push("setting");
            return setting;
        },
        pythonExtension: () => {
            calls.push("python-extension");
            return extension();
        },
    };
}

describe("resolveInterpreter", () => {
    it("prefers the setting and does not ask the Python extension", async () => {
        const p = probes("${workspaceFolder}/.venv/bin/python", () => Promise.resolve("/ext/python"));
        const result = await resolveInterpreter(p, context);
        assert.equal(result.python, "/ws/.venv/bin/python");
        assert.equal(result.source, "setting");
        assert.deepEqual(p.calls, ["setting"]);
    });

    it("uses the Python extension's environment when the setting is empty", async () => {
        const p = probes("   ", () => Promise.resolve("/ext/python"));
        const result = await resolveInterpreter(p, context);
        assert.deepEqual([result.python, result.source], ["/ext/python", "python-extension"]);
        assert.deepEqual(p.calls, ["setting", "python-extension"]);
    });

    it("falls back to python3 when the Python extension is absent", async () => {
        const result = await resolveInterpreter(probes(undefined, () => Promise.resolve(undefined)), context);
        assert.deepEqual([result.python, result.source], ["python3", "default"]);
        assert.match(result.notes.join("\n"), /not installed or has no active environment/);
    });

    it("falls back when the Python extension throws, and says why", async () => {
        const result = await resolveInterpreter(
            probes(undefined, () => Promise.reject(new Error("API not ready"))),
            context,
            "python",
        );
        assert.deepEqual([result.python, result.source], ["python", "default"]);
        assert.match(result.notes.join("\n"), /the Python extension failed: API not ready/);
    });

    it("picks python on Windows and python3 elsewhere", () => {
        assert.equal(defaultPython("win32"), "python");
        assert.equal(defaultPython("linux"), "python3");
    });
});

describe("expandVariables", () => {
    it("expands workspaceFolder, userHome, env and ~", () => {
        assert.equal(expandVariables("${userHome}/x", context), "/home/me/x");
        assert.equal(expandVariables("${env:VENV}/bin/python", context), "/venvs/a/bin/python");
        assert.equal(expandVariables("${env:MISSING}python", context), "python");
        assert.equal(expandVariables("~/venv/bin/python", context), "/home/me/venv/bin/python");
        assert.equal(expandVariables("/a~b", context), "/a~b");
    });

    it("leaves a variable it cannot fill in place", () => {
        assert.equal(expandVariables("${workspaceFolder}/p", { env: {} }), "${workspaceFolder}/p");
    });
});

describe("classifyImportCheck", () => {
    it("accepts exit code 0", () => {
        assert.deepEqual(classifyImportCheck("py", { exitCode: 0, stderr: "" }), { kind: "ok" });
    });

    it("reports a missing interpreter", () => {
        const check = classifyImportCheck("/nope/python", { spawnError: "ENOENT", exitCode: null, stderr: "" });
        assert.equal(check.kind, "no-interpreter");
        assert.match("message" in check ? check.message : "", /"\/nope\/python" was not found/);
    });

    it("reports a missing package", () => {
        const stderr = "Traceback (most recent call last):\n  File \"<string>\", line 1\nModuleNotFoundError: No module named 'dspy_lsp'\n";
        assert.equal(classifyImportCheck("py", { exitCode: 1, stderr }).kind, "missing-package");
    });

    it("tells a broken install (a dependency missing) from a missing package", () => {
        const stderr = "ModuleNotFoundError: No module named 'pygls'\n";
        const check = classifyImportCheck("py", { exitCode: 1, stderr });
        assert.equal(check.kind, "broken-package");
        assert.match("message" in check ? check.message : "", /No module named 'pygls'/);
    });

    it("reports other failures with the last line of stderr", () => {
        const check = classifyImportCheck("py", { exitCode: 1, stderr: "SyntaxError: invalid syntax\n" });
        assert.equal(check.kind, "failed");
        assert.match("message" in check ? check.message : "", /exit code 1\): SyntaxError: invalid syntax/);
        assert.equal(classifyImportCheck("py", { exitCode: null, stderr: "", timedOut: true }).kind, "failed");
    });
});

describe("command lines", () => {
    it("start the server on stdio with the log level", () => {
        assert.deepEqual(serverArgs("info"), ["-m", "dspy_lsp.server", "--log-level", "INFO"]);
    });

    it("run the CLI subcommands through the same interpreter", () => {
        assert.deepEqual(cliArgs("programs-list"), ["-m", "dspy_lsp.server.cli", "programs", "list"]);
        assert.deepEqual(cliArgs("optimize"), ["-m", "dspy_lsp.server.cli", "optimize"]);
    });
});
