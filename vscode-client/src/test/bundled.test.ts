/** The bundled wheel: finding it, the install command lines, and which Python importStrategy picks. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type BundleState, installCommands, parseImportStrategy, pickWheel, planServer, privateEnv } from "../bundled";
import type { ImportCheck } from "../interpreter";

const WHEEL = "/ext/bundled/dspy_lsp-0.1.0-py3-none-any.whl";
const SHA = "0123456789abcdef".repeat(4);

describe("the bundled wheel", () => {
    it("is the dspy_lsp wheel of the directory, the highest version if there are several", () => {
        assert.equal(pickWheel([".gitkeep", "dspy_lsp-0.1.0-py3-none-any.whl"]), "dspy_lsp-0.1.0-py3-none-any.whl");
        assert.equal(pickWheel(["dspy_lsp-0.9.0-py3-none-any.whl", "dspy_lsp-0.10.0-py3-none-any.whl"]), "dspy_lsp-0.10.0-py3-none-any.whl");
        assert.equal(pickWheel(["dspy-0.1.0-py3-none-any.whl", "dspy_lsp-0.1.0.tar.gz"]), undefined);
        assert.equal(pickWheel([]), undefined);
    });

    it("gets a private environment per wheel content under the global storage", () => {
        const env = privateEnv("/home/me/.config/Code/User/globalStorage/dspy-lsp.dspy-lsp", SHA, "linux");
        assert.equal(env.key, "0123456789abcdef");
        assert.equal(env.dir, "/home/me/.config/Code/User/globalStorage/dspy-lsp.dspy-lsp/python-env/0123456789abcdef");
        assert.equal(env.python, `${env.dir}/bin/python`);
        assert.equal(env.lock, `${env.dir}.lock`);
        const windows = privateEnv("C:\\Users\\me\\storage", SHA, "win32");
        assert.equal(windows.python, "C:\\Users\\me\\storage\\python-env\\0123456789abcdef\\Scripts\\python.exe");
        assert.notEqual(privateEnv("/s", "f".repeat(64), "linux").dir, privateEnv("/s", SHA, "linux").dir);
    });
});

describe("the install command lines", () => {
    it("pip install the wheel into the selected interpreter, its dependencies from the index", () => {
        assert.deepEqual(installCommands({ kind: "interpreter", python: "/usr/bin/python3.12" }, WHEEL), [
            { command: "/usr/bin/python3.12", args: ["-P", "-m", "pip", "install", "--disable-pip-version-check", WHEEL] },
        ]);
    });

    it("make a venv with the interpreter, then pip install the wheel with the venv's python", () => {
        const env = privateEnv("/storage", SHA, "linux");
        assert.deepEqual(installCommands({ kind: "private-env", basePython: "python3", env }, WHEEL), [
            { command: "python3", args: ["-P", "-m", "venv", "--clear", "/storage/python-env/0123456789abcdef"] },
            { command: "/storage/python-env/0123456789abcdef/bin/python", args: ["-P", "-m", "pip", "install", "--disable-pip-version-check", WHEEL] },
        ]);
    });

    it("never install a package named on the index in place of the bundled wheel", () => {
        const env = privateEnv("/storage", SHA, "linux");
        for (const line of [
            ...installCommands({ kind: "interpreter", python: "python3" }, WHEEL),
            ...installCommands({ kind: "private-env", basePython: "python3", env }, WHEEL),
        ]) {
            assert.ok(!line.args.includes("dspy-lsp"), line.args.join(" "));
        }
    });
});

describe("importStrategy", () => {
    const ok: ImportCheck = { kind: "ok" };
    const missing: ImportCheck = { kind: "missing-package", message: "dspy-lsp is not installed in python3." };
    const bundle = (over: Partial<BundleState> = {}): BundleState => ({
        wheel: true,
        envReady: false,
        envDir: "/storage/python-env/0123456789abcdef",
        restricted: false,
        workspaceFolders: ["/ws"],
        platform: "linux",
        ...over,
    });
    /** An import check that records whether it ran. */
    function checker(result: ImportCheck): (() => Promise<ImportCheck>) & { ran: number } {
        const check = Object.assign(() => {
            check.ran++;
            return Promise.resolve(result);
        }, { ran: 0 });
        return check;
    }

    it("reads fromEnvironment unless useBundled is set", () => {
        assert.equal(parseImportStrategy("useBundled"), "useBundled");
        assert.equal(parseImportStrategy("fromEnvironment"), "fromEnvironment");
        assert.equal(parseImportStrategy(undefined), "fromEnvironment");
        assert.equal(parseImportStrategy("bundled"), "fromEnvironment");
    });

    it("useBundled runs the private environment, installing it first when it is not ready, without checking the interpreter", async () => {
        const check = checker(missing);
        assert.deepEqual(await planServer("useBundled", check, bundle()), { kind: "bundled", install: true, notes: [] });
        assert.deepEqual(await planServer("useBundled", check, bundle({ envReady: true })), { kind: "bundled", install: false, notes: [] });
        assert.equal(check.ran, 0);
    });

    it("fromEnvironment runs the interpreter's dspy-lsp when it has one", async () => {
        const plan = await planServer("fromEnvironment", checker(ok), bundle({ envReady: true }));
        assert.equal(plan.kind, "environment");
    });

    it("fromEnvironment falls back to the bundled dspy-lsp once its environment is installed", async () => {
        const plan = await planServer("fromEnvironment", checker(missing), bundle({ envReady: true }));
        assert.equal(plan.kind, "bundled");
        assert.equal(plan.kind === "bundled" && plan.install, false);
        assert.match(plan.notes.join("\n"), /not installed in python3.*bundled dspy-lsp/s);
    });

    it("fromEnvironment reports the problem (with the install offer) when nothing can run the server", async () => {
        const plan = await planServer("fromEnvironment", checker(missing), bundle());
        assert.deepEqual(plan, { kind: "setup-problem", check: missing, notes: [] });
    });

    it("useBundled without a bundled wheel or a storage directory uses the interpreter, and says why", async () => {
        for (const state of [bundle({ wheel: false }), bundle({ envDir: undefined })]) {
            const plan = await planServer("useBundled", checker(ok), state);
            assert.equal(plan.kind, "environment");
            assert.match(plan.notes[0] ?? "", /useBundled, but/);
        }
    });

    it("in Restricted Mode never runs a private environment inside a workspace folder", async () => {
        const insideWorkspace = bundle({ restricted: true, envReady: true, envDir: "/ws/.config/Code/storage/python-env/x", workspaceFolders: ["/ws"] });
        const bundled = await planServer("useBundled", checker(missing), insideWorkspace);
        assert.equal(bundled.kind, "setup-problem");
        assert.match(bundled.notes[0] ?? "", /untrusted workspace folder \/ws/);
        assert.equal((await planServer("fromEnvironment", checker(missing), insideWorkspace)).kind, "setup-problem");
        // Trusted, or outside the folders: used.
        assert.equal((await planServer("useBundled", checker(missing), { ...insideWorkspace, restricted: false })).kind, "bundled");
        assert.equal((await planServer("useBundled", checker(missing), bundle({ restricted: true }))).kind, "bundled");
    });
});
