import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { classifyImportCheck, IMPORT_CHECK_ARGS } from "../interpreter";
import { isInside, runProcess, safeWorkingDirectory } from "../process";

const cwd = os.tmpdir();

// The import check's plumbing, with node standing in for python.
describe("runProcess", () => {
    it("reports exit code and stderr, and streams output", async () => {
        const chunks: string[] = [];
        const outcome = await runProcess(
            process.execPath,
            ["-e", "console.log('out'); console.error(\"ModuleNotFoundError: No module named 'dspy_lsp'\"); process.exit(1)"],
            { cwd, onOutput: (chunk) => chunks.push(chunk) },
        );
        assert.equal(outcome.exitCode, 1);
        assert.match(outcome.stderr, /No module named 'dspy_lsp'/);
        assert.match(chunks.join(""), /out/);
        assert.equal(classifyImportCheck("node", outcome).kind, "missing-package");
    });

    it("reports a missing executable as a spawn error", async () => {
        const outcome = await runProcess("/definitely/not/a/python", ["-c", "pass"], { cwd });
        assert.equal(outcome.spawnError, "ENOENT");
        assert.equal(classifyImportCheck("/definitely/not/a/python", outcome).kind, "no-interpreter");
    });

    it("kills a process that runs too long", async () => {
        const outcome = await runProcess(process.execPath, ["-e", "setTimeout(() => {}, 10000)"], { cwd, timeoutMs: 200 });
        assert.equal(outcome.timedOut, true);
        assert.equal(classifyImportCheck("node", outcome).kind, "failed");
    });

    it("runs the process in the given directory", async () => {
        let printed = "";
        await runProcess(process.execPath, ["-e", "console.log(process.cwd())"], { cwd, onOutput: (c) => (printed += c) });
        assert.equal(printed.trim(), path.resolve(cwd));
    });
});

describe("isInside", () => {
    it("compares normalised paths, not string prefixes", () => {
        assert.ok(isInside("/ws", "/ws", "linux"));
        assert.ok(isInside("/ws/.venv/bin/python", "/ws", "linux"));
        assert.ok(isInside("/ws/a/../b", "/ws/", "linux"));
        assert.ok(!isInside("/ws-other/python", "/ws", "linux"));
        assert.ok(!isInside("/ws/../elsewhere", "/ws", "linux"));
        assert.ok(!isInside("/", "/ws", "linux"));
        assert.ok(!isInside("/Ws/x", "/ws", "linux"));
    });

    it("ignores case on Windows and macOS", () => {
        assert.ok(isInside("C:\\Users\\Me\\Proj\\.venv\\Scripts\\python.exe", "c:\\users\\me\\proj", "win32"));
        assert.ok(!isInside("D:\\proj\\python.exe", "C:\\proj", "win32"));
        assert.ok(isInside("/Users/me/Proj/x", "/users/me/proj", "darwin"));
    });
});

describe("safeWorkingDirectory", () => {
    const storage = "/home/me/.config/Code/User/globalStorage/dspy-lsp.dspy-lsp";

    it("takes the global storage directory when it is outside every workspace folder", () => {
        const cwd = safeWorkingDirectory([storage, "/tmp"], ["/home/me/src/proj", "/srv/other"], { platform: "linux" });
        assert.equal(cwd, storage);
    });

    it("never answers a directory inside a workspace folder", () => {
        const folders = ["/home/me"]; // someone opened their home as the workspace
        const cwd = safeWorkingDirectory([storage, "/tmp"], folders, { platform: "linux" });
        assert.equal(cwd, "/tmp");
        assert.ok(!folders.some((f) => isInside(cwd, f, "linux")));
    });

    it("skips missing, relative and non-directory candidates", () => {
        const isDirectory = (c: string): boolean => c !== storage;
        assert.equal(safeWorkingDirectory([undefined, "", "relative/dir", storage, "/tmp"], [], { platform: "linux", isDirectory }), "/tmp");
    });

    it("falls back to the file-system root when every candidate is in the workspace", () => {
        assert.equal(safeWorkingDirectory(["/tmp/storage", "/tmp"], ["/tmp"], { platform: "linux" }), "/");
        assert.equal(safeWorkingDirectory(["C:\\Temp"], ["c:\\temp"], { platform: "win32" }), "C:\\");
    });

    it("answers a directory outside the workspace for this machine's real folders", () => {
        const workspace = mkdtempSync(path.join(os.tmpdir(), "dspy-lsp-ws-"));
        try {
            const cwd = safeWorkingDirectory([path.join(workspace, "storage"), os.tmpdir()], [workspace]);
            assert.ok(!isInside(cwd, workspace), cwd);
        } finally {
            rmSync(workspace, { recursive: true, force: true });
        }
    });
});

// The attack: a checkout with a json.py next to where Python starts. With -P the workspace is
// never on sys.path, even if the process did run in it; and it does not run there anyway.
describe("the import check against a hostile workspace", () => {
    const python = process.env.DSPY_LSP_PYTHON ?? "python3";
    const workspace = mkdtempSync(path.join(os.tmpdir(), "dspy-lsp-hostile-"));
    const marker = path.join(workspace, "pwned");
    writeFileSync(
        path.join(workspace, "json.py"),
        `open(${JSON.stringify(marker)}, "w").write("ran")\nraise SystemExit(97)\n`,
    );
    mkdirSync(path.join(workspace, "dspy_lsp"));
    writeFileSync(path.join(workspace, "dspy_lsp", "__init__.py"), `open(${JSON.stringify(marker)}, "w").write("ran")\n`);
    after(() => rmSync(workspace, { recursive: true, force: true }));

    it("does not run the workspace's json.py, even with the workspace as cwd", async (t) => {
        const control = await runProcess(python, ["-c", "import json"], { cwd: workspace, timeoutMs: 60_000 });
        if (control.spawnError !== undefined) {
            return t.skip(`${python} is not available`);
        }
        // Without -P the planted module runs: the test would catch a regression.
        assert.equal(control.exitCode, 97);
        assert.ok(existsSync(marker));
        rmSync(marker);

        const checked = await runProcess(python, IMPORT_CHECK_ARGS, { cwd: workspace, timeoutMs: 60_000 });
        if (classifyImportCheck(python, checked).kind === "too-old") {
            return t.skip(`${python} is older than 3.11`);
        }
        assert.notEqual(checked.exitCode, 97, checked.stderr);
        assert.ok(!existsSync(marker), "the workspace's json.py or dspy_lsp ran");
        const safe = safeWorkingDirectory([os.tmpdir()], [workspace]);
        const elsewhere = await runProcess(python, IMPORT_CHECK_ARGS, { cwd: safe, timeoutMs: 60_000 });
        assert.notEqual(elsewhere.exitCode, 97, elsewhere.stderr);
        assert.ok(!existsSync(marker));
    });
});
