import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { installCommands, privateEnv } from "../bundled";
import { cliArgs } from "../cli";
import {
    classifyImportCheck,
    defaultPython,
    expandVariables,
    IMPORT_CHECK_ARGS,
    type InterpreterProbes,
    PYTHON_FLAGS,
    resolveInterpreter,
    resolveInterpreterPath,
    serverArgs,
} from "../interpreter";

const context = {
    workspaceFolder: "/ws",
    workspaceFolders: ["/ws", "/ws2"],
    home: "/home/me",
    env: { VENV: "/venvs/a" },
    platform: "linux",
};

function probes(
    setting: string | undefined,
    extension: () => Promise<string | undefined>,
    userPython?: string,
): InterpreterProbes & { calls: string[] } {
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
        userPythonSetting: () => {
            calls.push("python-setting");
            return userPython;
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

    it("takes a relative interpreter path from the workspace folder, since nothing runs there", async () => {
        const result = await resolveInterpreter(probes(".venv/bin/python", () => Promise.resolve(undefined)), context);
        assert.equal(result.python, "/ws/.venv/bin/python");
        assert.equal(resolveInterpreterPath("python3.12", context), "python3.12");
        assert.equal(resolveInterpreterPath(".venv\\Scripts\\python.exe", { ...context, workspaceFolder: "C:\\ws", platform: "win32" }),
            "C:\\ws\\.venv\\Scripts\\python.exe");
    });

    it("picks python on Windows and python3 elsewhere", () => {
        assert.equal(defaultPython("win32"), "python");
        assert.equal(defaultPython("linux"), "python3");
    });
});

describe("resolveInterpreter in Restricted Mode", () => {
    const restricted = (p: InterpreterProbes) => resolveInterpreter(p, context, "python3", true);

    it("takes the user's interpreter when it is outside the workspace", async () => {
        const p = probes("~/venvs/tools/bin/python", () => Promise.resolve("/ws/.venv/bin/python"));
        const result = await restricted(p);
        assert.deepEqual([result.python, result.source], ["/home/me/venvs/tools/bin/python", "setting"]);
        assert.deepEqual(p.calls, ["setting"]);
    });

    it("never asks the Python extension, whose environment may be the workspace's", async () => {
        const p = probes(undefined, () => Promise.resolve("/ws/.venv/bin/python"));
        const result = await restricted(p);
        assert.deepEqual([result.python, result.source], ["python3", "default"]);
        assert.ok(!p.calls.includes("python-extension"));
        assert.match(result.notes.join("\n"), /not used in Restricted Mode/);
    });

    it("refuses an interpreter inside a workspace folder, also from a user setting", async () => {
        for (const setting of ["${workspaceFolder}/.venv/bin/python", "/ws2/env/bin/python", ".venv/bin/python", "/ws/../ws/x/python"]) {
            const result = await restricted(probes(setting, () => Promise.resolve(undefined)));
            assert.deepEqual([result.python, result.source], ["python3", "default"], setting);
            assert.match(result.notes.join("\n"), /inside the workspace folder|relative path/, setting);
        }
    });

    it("uses the user-level python.defaultInterpreterPath next, with the same check", async () => {
        const outside = await restricted(probes(undefined, () => Promise.resolve(undefined), "/usr/bin/python3.12"));
        assert.deepEqual([outside.python, outside.source], ["/usr/bin/python3.12", "python-setting"]);
        const inside = await restricted(probes(undefined, () => Promise.resolve(undefined), "${workspaceFolder}/venv/bin/python"));
        assert.deepEqual([inside.python, inside.source], ["python3", "default"]);
        assert.match(inside.notes.join("\n"), /python.defaultInterpreterPath \(\/ws\/venv\/bin\/python\) is inside/);
    });

    it("keeps a bare command name: it is found on PATH, not in the workspace", async () => {
        const result = await restricted(probes("python3.12", () => Promise.resolve(undefined)));
        assert.deepEqual([result.python, result.source], ["python3.12", "setting"]);
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

    it("reports a Python without -P (older than 3.11) as too old", () => {
        const stderr = "Unknown option: -P\nusage: /usr/bin/python3.10 [option] ... [-c cmd | -m mod | file | -] [arg] ...\nTry `python -h' for more information.\n";
        const check = classifyImportCheck("/usr/bin/python3.10", { exitCode: 2, stderr });
        assert.equal(check.kind, "too-old");
        assert.match("message" in check ? check.message : "", /needs Python 3\.11 or newer/);
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
        assert.deepEqual(serverArgs("info"), ["-P", "-m", "dspy_lsp.server", "--log-level", "INFO"]);
    });

    it("every Python command line starts with -P, never -I (the user site-packages stays) and never a bare -c/-m", () => {
        assert.deepEqual(PYTHON_FLAGS, ["-P"]);
        const env = privateEnv("/storage", "ab".repeat(32), "linux");
        const installs = [
            ...installCommands({ kind: "interpreter", python: "python3" }, "/ext/bundled/dspy_lsp-0.1.0-py3-none-any.whl"),
            ...installCommands({ kind: "private-env", basePython: "python3", env }, "/ext/bundled/dspy_lsp-0.1.0-py3-none-any.whl"),
        ].map((line) => line.args);
        for (const args of [serverArgs("warning"), IMPORT_CHECK_ARGS, cliArgs("optimize"), cliArgs("programs-list"), ...installs]) {
            assert.equal(args[0], "-P", args.join(" "));
            assert.ok(!args.includes("-I"), args.join(" "));
        }
        assert.deepEqual(IMPORT_CHECK_ARGS, ["-P", "-c", "import dspy_lsp.server"]);
    });
});
