/**
 * Installing the bundled wheel: into the selected interpreter, or into the private environment
 * under the extension's global storage (created once per wheel, one window at a time). The file
 * system and processes are real here; the process runner is injected so tests can watch it.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { type CommandLine, installCommands, type InstallTarget, pickWheel, type PrivateEnv, privateEnv } from "./bundled";
import type { ProcessOutcome } from "./interpreter";
import type { RunOptions } from "./process";

export type Runner = (command: string, args: readonly string[], options: RunOptions) => Promise<ProcessOutcome>;

/** The wheel in the .vsix and the private environment it goes into. */
export interface Bundle {
    readonly wheel: string;
    /** `undefined` when the extension has no global storage on disk. */
    readonly env: PrivateEnv | undefined;
}

/** The bundled wheel in `bundledDir` (`<extension>/bundled`), or `undefined` in a build without one. */
export function findBundle(bundledDir: string, storageDir: string | undefined, platform?: string): Bundle | undefined {
    let names: string[];
    try {
        names = readdirSync(bundledDir);
    } catch {
        return undefined;
    }
    const name = pickWheel(names);
    if (name === undefined) {
        return undefined;
    }
    const wheel = path.join(bundledDir, name);
    const sha256 = createHash("sha256").update(readFileSync(wheel)).digest("hex");
    return { wheel, env: storageDir === undefined ? undefined : privateEnv(storageDir, sha256, platform) };
}

interface Stamp {
    readonly key: string;
    readonly wheel: string;
    readonly basePython: string;
}

/** Whether the environment has this wheel installed (its stamp is written after a successful install). */
export function envReady(env: PrivateEnv): boolean {
    try {
        const stamp = JSON.parse(readFileSync(env.stamp, "utf8")) as Partial<Stamp>;
        return stamp.key === env.key && existsSync(env.python);
    } catch {
        return false;
    }
}

export type InstallOutcome =
    | { readonly ok: true; readonly python: string }
    | { readonly ok: false; readonly message: string };

export interface InstallOptions {
    readonly run: Runner;
    /** Where the processes run (outside every workspace folder). */
    readonly cwd: string;
    readonly onOutput?: (chunk: string) => void;
    /** Per step; pip may download dspy and its dependencies. */
    readonly timeoutMs?: number;
    /** How long to wait for another window's install of the same environment. */
    readonly lockWaitMs?: number;
    /** A lock older than this was left by a window that died; it is taken over. */
    readonly staleLockMs?: number;
    readonly pollMs?: number;
    /** Make the private environment again even if its stamp says it is ready (it failed its import check). */
    readonly reinstall?: boolean;
}

/**
 * Runs the install command lines for `target` and returns the python that now has dspy-lsp.
 * A private environment is made under its lock, and skipped when another window made it
 * meanwhile; its stamp is written only after pip succeeded.
 */
export async function installBundle(target: InstallTarget, wheel: string, options: InstallOptions): Promise<InstallOutcome> {
    if (target.kind === "interpreter") {
        return runAll(installCommands(target, wheel), options, target.python);
    }
    const env = target.env;
    return withLock(env.lock, options, async () => {
        if (envReady(env) && options.reinstall !== true) {
            return { ok: true, python: env.python };
        }
        rmSync(env.stamp, { force: true });
        mkdirSync(path.dirname(env.dir), { recursive: true });
        const outcome = await runAll(installCommands(target, wheel), options, env.python);
        if (outcome.ok) {
            const stamp: Stamp = { key: env.key, wheel: path.basename(wheel), basePython: target.basePython };
            writeFileSync(env.stamp, `${JSON.stringify(stamp)}\n`);
        }
        return outcome;
    });
}

async function runAll(commands: readonly CommandLine[], options: InstallOptions, python: string): Promise<InstallOutcome> {
    for (const { command, args } of commands) {
        options.onOutput?.(`$ ${command} ${args.join(" ")}\n`);
        const outcome = await options.run(command, args, {
            cwd: options.cwd,
            timeoutMs: options.timeoutMs ?? 15 * 60_000,
            onOutput: options.onOutput,
        });
        if (outcome.exitCode !== 0) {
            const why =
                outcome.spawnError !== undefined
                    ? `could not be run (${outcome.spawnError})`
                    : outcome.timedOut
                      ? "did not finish in time"
                      : `failed (exit code ${String(outcome.exitCode)}): ${lastLine(outcome.stderr)}`;
            return { ok: false, message: `"${command} ${args.slice(0, 4).join(" ")}" ${why}` };
        }
    }
    return { ok: true, python };
}

async function withLock(lock: string, options: InstallOptions, task: () => Promise<InstallOutcome>): Promise<InstallOutcome> {
    const waitMs = options.lockWaitMs ?? 30 * 60_000;
    const staleMs = options.staleLockMs ?? 30 * 60_000;
    const started = Date.now();
    mkdirSync(path.dirname(lock), { recursive: true });
    for (;;) {
        try {
            mkdirSync(lock);
            break;
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
                return { ok: false, message: `cannot lock ${lock}: ${String(error)}` };
            }
        }
        if (lockAge(lock) > staleMs) {
            rmSync(lock, { recursive: true, force: true });
            continue;
        }
        if (Date.now() - started > waitMs) {
            return { ok: false, message: `another window has been installing into ${path.dirname(lock)} for too long (${lock})` };
        }
        options.onOutput?.(`Waiting for another window to finish installing (${lock})…\n`);
        await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 2_000));
    }
    try {
        return await task();
    } finally {
        rmSync(lock, { recursive: true, force: true });
    }
}

function lockAge(lock: string): number {
    try {
        return Date.now() - statSync(lock).mtimeMs;
    } catch {
        return 0;
    }
}

function lastLine(text: string): string {
    const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
    return lines[lines.length - 1] ?? "no error output";
}
