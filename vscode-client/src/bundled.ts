/**
 * The dspy-lsp wheel bundled in the .vsix: where it is, the private environment it is installed
 * into, the install command lines, and which Python runs the server (`dspy-lsp.importStrategy`).
 *
 * Pure: no vscode import and no file system access, so every choice is unit-tested.
 */
import type { ImportCheck } from "./interpreter";
import { PYTHON_FLAGS } from "./interpreter";
import { isInside, pathApi } from "./process";

/** `fromEnvironment`: the selected interpreter's dspy-lsp; `useBundled`: the bundled wheel's. */
export type ImportStrategy = "fromEnvironment" | "useBundled";

export const IMPORT_STRATEGIES: readonly ImportStrategy[] = ["fromEnvironment", "useBundled"];

export function parseImportStrategy(value: unknown): ImportStrategy {
    return value === "useBundled" ? "useBundled" : "fromEnvironment";
}

/** `dspy_lsp-0.1.0-py3-none-any.whl` and the like, as `pip wheel` names the repository's wheel. */
const WHEEL = /^dspy_lsp-(\d+(?:\.\d+)*)[^-]*-.+\.whl$/;

/** The bundled wheel among a directory's file names: the highest version if there are several. */
export function pickWheel(names: readonly string[]): string | undefined {
    const versioned = names
        .map((name) => ({ name, version: WHEEL.exec(name)?.[1] }))
        .filter((w): w is { name: string; version: string } => w.version !== undefined);
    versioned.sort((a, b) => compareVersions(a.version, b.version) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return versioned[versioned.length - 1]?.name;
}

function compareVersions(a: string, b: string): number {
    const left = a.split(".").map(Number);
    const right = b.split(".").map(Number);
    for (let i = 0; i < Math.max(left.length, right.length); i++) {
        const difference = (left[i] ?? 0) - (right[i] ?? 0);
        if (difference !== 0) {
            return difference;
        }
    }
    return 0;
}

/**
 * The private environment of one bundled wheel, under the extension's global storage. Keyed by
 * the wheel's content hash, so a new wheel (an updated extension) gets a new environment and a
 * window still running an older one keeps its own.
 */
export interface PrivateEnv {
    readonly dir: string;
    readonly python: string;
    /** Written last, once the wheel is installed: the environment is ready iff it names this key. */
    readonly stamp: string;
    /** Held (an exclusive `mkdir`) while one window creates the environment. */
    readonly lock: string;
    /** The first 16 hex digits of the wheel's SHA-256. */
    readonly key: string;
}

export const PRIVATE_ENVS_DIR = "python-env";

export function privateEnv(storageDir: string, wheelSha256: string, platform?: string): PrivateEnv {
    const paths = pathApi(platform);
    const key = wheelSha256.slice(0, 16);
    const dir = paths.join(storageDir, PRIVATE_ENVS_DIR, key);
    const python = (platform ?? process.platform) === "win32" ? paths.join(dir, "Scripts", "python.exe") : paths.join(dir, "bin", "python");
    return { dir, python, stamp: paths.join(dir, "dspy-lsp-installed.json"), lock: `${dir}.lock`, key };
}

/** Where "Install dspy-lsp" puts the bundled wheel. */
export type InstallTarget =
    | { readonly kind: "interpreter"; readonly python: string }
    | { readonly kind: "private-env"; readonly basePython: string; readonly env: PrivateEnv };

export interface CommandLine {
    readonly command: string;
    readonly args: readonly string[];
}

/**
 * `pip install <wheel>` into the interpreter (its dependencies come from the index), or a venv
 * made by the base interpreter (`--clear`: a half-made one from an interrupted install is
 * redone) and the same install with the venv's python.
 */
export function installCommands(target: InstallTarget, wheel: string): CommandLine[] {
    const pipInstall = [...PYTHON_FLAGS, "-m", "pip", "install", "--disable-pip-version-check", wheel];
    if (target.kind === "interpreter") {
        return [{ command: target.python, args: pipInstall }];
    }
    return [
        { command: target.basePython, args: [...PYTHON_FLAGS, "-m", "venv", "--clear", target.env.dir] },
        { command: target.env.python, args: pipInstall },
    ];
}

/** What the extension knows about the bundled wheel when it starts the server. */
export interface BundleState {
    /** False in a build without a wheel (a development build from source). */
    readonly wheel: boolean;
    /** The private environment of this wheel exists and has it installed. */
    readonly envReady: boolean;
    /** The private environment's directory, `undefined` without a global storage on disk. */
    readonly envDir: string | undefined;
    /** Restricted Mode: nothing inside a workspace folder is run. */
    readonly restricted: boolean;
    readonly workspaceFolders: readonly string[];
    readonly platform?: string;
}

/** Which Python the server starts from, as `dspy-lsp.importStrategy` and the import check decide. */
export type ServerPlan =
    /** The selected interpreter, which has dspy-lsp. */
    | { readonly kind: "environment"; readonly notes: readonly string[] }
    /** The private environment; `install` when it must be created first. */
    | { readonly kind: "bundled"; readonly install: boolean; readonly notes: readonly string[] }
    /** Nothing can run the server yet: tell the user (with an Install action where it helps). */
    | { readonly kind: "setup-problem"; readonly check: Exclude<ImportCheck, { kind: "ok" }>; readonly notes: readonly string[] };

/**
 * `useBundled`: the private environment, created from the bundled wheel on first use.
 * `fromEnvironment` (as ruff's extension): the selected interpreter when it can import the
 * server; else the private environment if an earlier install made it; else a setup problem.
 * Without a bundled wheel or a storage directory, or when the storage lies in an untrusted
 * workspace folder, there is no private environment and `useBundled` acts as `fromEnvironment`.
 */
export async function planServer(
    strategy: ImportStrategy,
    check: () => Promise<ImportCheck>,
    bundle: BundleState,
): Promise<ServerPlan> {
    const notes: string[] = [];
    const unusable = privateEnvUnusable(bundle);
    if (strategy === "useBundled") {
        if (unusable === undefined) {
            return { kind: "bundled", install: !bundle.envReady, notes };
        }
        notes.push(`importStrategy is useBundled, but ${unusable}; using the selected interpreter`);
    }
    const result = await check();
    if (result.kind === "ok") {
        return { kind: "environment", notes };
    }
    if (unusable === undefined && bundle.envReady) {
        notes.push(`${result.message} Using the bundled dspy-lsp installed in ${bundle.envDir ?? "the private environment"}`);
        return { kind: "bundled", install: false, notes };
    }
    return { kind: "setup-problem", check: result, notes };
}

function privateEnvUnusable(bundle: BundleState): string | undefined {
    if (!bundle.wheel) {
        return "this build of the extension has no bundled wheel";
    }
    if (bundle.envDir === undefined) {
        return "the extension has no global storage directory on disk";
    }
    const envDir = bundle.envDir;
    const folder = bundle.restricted ? bundle.workspaceFolders.find((f) => isInside(envDir, f, bundle.platform)) : undefined;
    return folder === undefined ? undefined : `its environment ${envDir} is inside the untrusted workspace folder ${folder}`;
}
