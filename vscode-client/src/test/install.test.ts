/**
 * Installing the bundled wheel into a private environment, on a real directory, with a runner
 * that records the command lines and plays the part of python (venv makes bin/python).
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import type { ProcessOutcome } from "../interpreter";
import { envReady, findBundle, installBundle, type Runner } from "../install";

const root = mkdtempSync(path.join(os.tmpdir(), "dspy-lsp-install-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** An extension directory with a wheel, and a fresh storage directory. */
function setup(name: string, wheelBytes = "wheel v1"): { bundledDir: string; storage: string } {
    const bundledDir = path.join(root, name, "extension", "bundled");
    const storage = path.join(root, name, "storage");
    mkdirSync(bundledDir, { recursive: true });
    writeFileSync(path.join(bundledDir, "dspy_lsp-0.1.0-py3-none-any.whl"), wheelBytes);
    return { bundledDir, storage };
}

/** Records each command line; `venv` creates the environment's python, `pip` exits with `pipExit`. */
function fakePython(pipExit = 0, delayMs = 0): Runner & { lines: string[][] } {
    const lines: string[][] = [];
    const run = async (command: string, args: readonly string[]): Promise<ProcessOutcome> => {
        lines.push([command, ...args]);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        if (args.includes("venv")) {
            const dir = args[args.length - 1] ?? "";
            mkdirSync(path.join(dir, "bin"), { recursive: true });
            writeFileSync(path.join(dir, "bin", "python"), "");
            return { exitCode: 0, stderr: "" };
        }
        return pipExit === 0 ? { exitCode: 0, stderr: "" } : { exitCode: pipExit, stderr: "ERROR: No matching distribution found for dspy<3.5,>=3.4\n" };
    };
    return Object.assign(run, { lines });
}

describe("installing the bundled wheel", () => {
    it("finds no bundle in a build without a wheel", () => {
        assert.equal(findBundle(path.join(root, "nowhere"), root), undefined);
    });

    it("makes the private environment once, then finds it ready", async () => {
        const { bundledDir, storage } = setup("once");
        const bundle = findBundle(bundledDir, storage, "linux");
        assert.ok(bundle?.env);
        const env = bundle.env;
        assert.equal(envReady(env), false);
        const run = fakePython();
        const target = { kind: "private-env", basePython: "/usr/bin/python3", env } as const;
        assert.deepEqual(await installBundle(target, bundle.wheel, { run, cwd: storage }), { ok: true, python: env.python });
        assert.deepEqual(run.lines, [
            ["/usr/bin/python3", "-P", "-m", "venv", "--clear", env.dir],
            [env.python, "-P", "-m", "pip", "install", "--disable-pip-version-check", bundle.wheel],
        ]);
        assert.equal(envReady(env), true);
        assert.equal((JSON.parse(readFileSync(env.stamp, "utf8")) as { wheel: string }).wheel, "dspy_lsp-0.1.0-py3-none-any.whl");
        await installBundle(target, bundle.wheel, { run, cwd: storage });
        assert.equal(run.lines.length, 2, "a ready environment is not made again");
    });

    it("makes a ready environment again when asked to (it failed its import check)", async () => {
        const { bundledDir, storage } = setup("reinstall");
        const bundle = findBundle(bundledDir, storage, "linux");
        assert.ok(bundle?.env);
        const run = fakePython();
        const target = { kind: "private-env", basePython: "python3", env: bundle.env } as const;
        await installBundle(target, bundle.wheel, { run, cwd: storage });
        await installBundle(target, bundle.wheel, { run, cwd: storage, reinstall: true });
        assert.equal(run.lines.length, 4);
        assert.equal(envReady(bundle.env), true);
    });

    it("gives a new wheel its own environment", () => {
        const first = setup("v1", "wheel v1");
        const second = setup("v2", "wheel v2");
        const a = findBundle(first.bundledDir, root, "linux")?.env?.dir;
        const b = findBundle(second.bundledDir, root, "linux")?.env?.dir;
        assert.ok(a && b && a !== b);
    });

    it("leaves no stamp when pip fails, and says why", async () => {
        const { bundledDir, storage } = setup("fails");
        const bundle = findBundle(bundledDir, storage, "linux");
        assert.ok(bundle?.env);
        const outcome = await installBundle({ kind: "private-env", basePython: "python3", env: bundle.env }, bundle.wheel, { run: fakePython(1), cwd: storage });
        assert.equal(outcome.ok, false);
        assert.match(outcome.ok ? "" : outcome.message, /exit code 1\): ERROR: No matching distribution/);
        assert.equal(envReady(bundle.env), false);
    });

    it("installs into the selected interpreter with one pip command", async () => {
        const { bundledDir, storage } = setup("interpreter");
        const bundle = findBundle(bundledDir, storage, "linux");
        assert.ok(bundle);
        const run = fakePython();
        assert.deepEqual(await installBundle({ kind: "interpreter", python: "/opt/py/bin/python3" }, bundle.wheel, { run, cwd: storage }), {
            ok: true,
            python: "/opt/py/bin/python3",
        });
        assert.deepEqual(run.lines, [["/opt/py/bin/python3", "-P", "-m", "pip", "install", "--disable-pip-version-check", bundle.wheel]]);
    });

    it("lets one of two windows make the environment while the other waits for it", async () => {
        const { bundledDir, storage } = setup("two-windows");
        const bundle = findBundle(bundledDir, storage, "linux");
        assert.ok(bundle?.env);
        const run = fakePython(0, 50);
        const target = { kind: "private-env", basePython: "python3", env: bundle.env } as const;
        const options = { run, cwd: storage, pollMs: 10 };
        const [a, b] = await Promise.all([installBundle(target, bundle.wheel, options), installBundle(target, bundle.wheel, options)]);
        assert.ok(a.ok && b.ok);
        assert.equal(run.lines.length, 2, "venv and pip ran once");
    });

    it("takes over a lock left by a window that died", async () => {
        const { bundledDir, storage } = setup("stale-lock");
        const bundle = findBundle(bundledDir, storage, "linux");
        assert.ok(bundle?.env);
        mkdirSync(bundle.env.lock, { recursive: true });
        const outcome = await installBundle({ kind: "private-env", basePython: "python3", env: bundle.env }, bundle.wheel, {
            run: fakePython(),
            cwd: storage,
            staleLockMs: -1,
        });
        assert.ok(outcome.ok);
    });
});
