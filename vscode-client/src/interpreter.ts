/**
 * Which Python runs the server, the command lines it runs, and how to read the answer of the
 * import check.
 *
 * Pure: the sources (the setting, the Python extension) are injected as probes, so the order
 * is unit-tested without VS Code.
 */
import { isInside, pathApi } from "./process";

/** Where the interpreter came from; `private-env`: the bundled wheel's environment under the global storage. */
export type InterpreterSource = "setting" | "python-extension" | "python-setting" | "default" | "private-env";

export interface InterpreterProbes {
    /**
     * The raw `dspy-lsp.interpreter` setting, if any. In Restricted Mode the caller passes the
     * user-level value only.
     */
    setting(): string | undefined;
    /**
     * The active environment's python from the Python extension; `undefined` when the
     * extension is not installed or has no environment. May throw. Not asked in Restricted
     * Mode: it may come from a workspace setting or a virtualenv inside the workspace.
     */
    pythonExtension(): Promise<string | undefined>;
    /** The user-level `python.defaultInterpreterPath`; asked in Restricted Mode only. */
    userPythonSetting?(): string | undefined;
}

export interface ExpandContext {
    /** The first workspace folder: `${workspaceFolder}`, and the base of a relative path. */
    readonly workspaceFolder?: string;
    /** Every workspace folder; in Restricted Mode no interpreter inside one of them is run. */
    readonly workspaceFolders?: readonly string[];
    readonly home?: string;
    readonly env: Readonly<Record<string, string | undefined>>;
    /** `process.platform`; decides how paths compare (default: this machine's). */
    readonly platform?: string;
}

export interface ResolvedInterpreter {
    readonly python: string;
    readonly source: InterpreterSource;
    /** Why earlier sources were skipped, for the output channel. */
    readonly notes: readonly string[];
}

export function defaultPython(platform: string): string {
    return platform === "win32" ? "python" : "python3";
}

/**
 * Order: the `dspy-lsp.interpreter` setting, the Python extension's environment, `python3`.
 *
 * `restricted` (an untrusted workspace, Restricted Mode): the setting (user-level, see the
 * probe), then the user-level `python.defaultInterpreterPath`, then `python3`; the Python
 * extension is not asked, and a path inside a workspace folder (e.g. `${workspaceFolder}/.venv`
 * or a relative path) is refused, since the workspace's files are not trusted to run.
 */
export async function resolveInterpreter(
    probes: InterpreterProbes,
    context: ExpandContext,
    fallback = "python3",
    restricted = false,
): Promise<ResolvedInterpreter> {
    const notes: string[] = [];
    const fromSetting = probes.setting()?.trim();
    if (fromSetting) {
        const python = resolveInterpreterPath(fromSetting, context);
        const refusal = restricted ? refuseInWorkspace(python, context) : undefined;
        if (refusal === undefined) {
            return { python, source: "setting", notes };
        }
        notes.push(`dspy-lsp.interpreter (${python}) ${refusal}`);
    } else {
        notes.push("dspy-lsp.interpreter is not set");
    }
    if (restricted) {
        notes.push("the Python extension's environment is not used in Restricted Mode");
        const fromPythonSetting = probes.userPythonSetting?.()?.trim();
        if (fromPythonSetting) {
            const python = resolveInterpreterPath(fromPythonSetting, context);
            const refusal = refuseInWorkspace(python, context);
            if (refusal === undefined) {
                return { python, source: "python-setting", notes };
            }
            notes.push(`python.defaultInterpreterPath (${python}) ${refusal}`);
        }
        return { python: fallback, source: "default", notes };
    }
    try {
        const fromExtension = (await probes.pythonExtension())?.trim();
        if (fromExtension) {
            return { python: fromExtension, source: "python-extension", notes };
        }
        notes.push("the Python extension is not installed or has no active environment");
    } catch (error) {
        notes.push(`the Python extension failed: ${errorMessage(error)}`);
    }
    return { python: fallback, source: "default", notes };
}

/**
 * The interpreter a setting names: variables expanded, and a relative path (one with a
 * separator, like `.venv/bin/python`) taken from the first workspace folder, since the
 * processes do not run there. A bare name (`python3.12`) is looked up on PATH.
 */
export function resolveInterpreterPath(value: string, context: ExpandContext): string {
    const expanded = expandVariables(value, context);
    const paths = pathApi(context.platform);
    if (!hasSeparator(expanded, context.platform) || paths.isAbsolute(expanded) || context.workspaceFolder === undefined) {
        return expanded;
    }
    return paths.join(context.workspaceFolder, expanded);
}

/** Why `python` may not run in Restricted Mode, or `undefined` when it may. */
function refuseInWorkspace(python: string, context: ExpandContext): string | undefined {
    if (hasSeparator(python, context.platform) && !pathApi(context.platform).isAbsolute(python)) {
        return "is a relative path; it is not used in Restricted Mode";
    }
    const folder = (context.workspaceFolders ?? []).find((f) => isInside(python, f, context.platform));
    return folder === undefined
        ? undefined
        : `is inside the workspace folder ${folder}, which is not trusted; it is not run in Restricted Mode`;
}

function hasSeparator(value: string, platform: string | undefined): boolean {
    return value.includes("/") || ((platform ?? process.platform) === "win32" && value.includes("\\"));
}

/** `${workspaceFolder}`, `${userHome}`, `${env:NAME}` and a leading `~`, as VS Code users expect. */
export function expandVariables(value: string, context: ExpandContext): string {
    let result = value.replace(/\$\{(workspaceFolder|userHome|env:([A-Za-z_][A-Za-z0-9_]*))\}/g,
        (match: string, name: string, envName: string | undefined) => {
            if (envName !== undefined) {
                return context.env[envName] ?? "";
            }
            const replacement = name === "workspaceFolder" ? context.workspaceFolder : context.home;
            return replacement ?? match;
        });
    if (context.home && (result === "~" || result.startsWith("~/") || result.startsWith("~\\"))) {
        result = context.home + result.slice(1);
    }
    return result;
}

/**
 * The interpreter options every Python process of the extension starts with. `-P` (Python
 * 3.11+): do not put the current directory (or the script's) first on `sys.path`, so a
 * `json.py` in a checkout is never imported in place of the standard library. Not `-I`, which
 * also drops the user site-packages where `pip install --user dspy-lsp` puts the server. A
 * Python older than 3.11 rejects `-P`; the import check reports it as too old (dspy-lsp needs
 * 3.11 anyway).
 */
export const PYTHON_FLAGS: readonly string[] = ["-P"];

/** Arguments to `python` that start the server on stdio. */
export function serverArgs(logLevel: string): string[] {
    return [...PYTHON_FLAGS, "-m", "dspy_lsp.server", "--log-level", logLevel.toUpperCase()];
}

export const IMPORT_CHECK_ARGS: readonly string[] = [...PYTHON_FLAGS, "-c", "import dspy_lsp.server"];

export interface ProcessOutcome {
    /** The spawn error's `code` (e.g. `ENOENT`) when the process could not start. */
    readonly spawnError?: string;
    readonly exitCode: number | null;
    readonly stderr: string;
    readonly timedOut?: boolean;
}

export type ImportCheck =
    | { readonly kind: "ok" }
    | { readonly kind: "no-interpreter"; readonly message: string }
    | { readonly kind: "too-old"; readonly message: string }
    | { readonly kind: "missing-package"; readonly message: string }
    | { readonly kind: "broken-package"; readonly message: string }
    | { readonly kind: "failed"; readonly message: string };

/** Reads the result of `<python> -P -c "import dspy_lsp.server"`. */
export function classifyImportCheck(python: string, outcome: ProcessOutcome): ImportCheck {
    if (outcome.spawnError !== undefined) {
        const why = outcome.spawnError === "ENOENT" ? "was not found" : `could not be run (${outcome.spawnError})`;
        return { kind: "no-interpreter", message: `Python interpreter "${python}" ${why}.` };
    }
    if (outcome.timedOut) {
        return { kind: "failed", message: `"${python} -P -c 'import dspy_lsp.server'" did not finish in time.` };
    }
    if (outcome.exitCode === 0) {
        return { kind: "ok" };
    }
    // Python 3.10 and older: "Unknown option: -P" and the usage, exit code 2.
    if (/^Unknown option:? -P\b/m.test(outcome.stderr)) {
        return {
            kind: "too-old",
            message: `Python "${python}" is too old: dspy-lsp needs Python 3.11 or newer (it has no -P option).`,
        };
    }
    const last = lastLine(outcome.stderr);
    const missing = /No module named '([^']+)'/.exec(outcome.stderr);
    if (missing) {
        const module = missing[1] ?? "";
        if (module === "dspy_lsp" || module.startsWith("dspy_lsp.")) {
            return {
                kind: "missing-package",
                message: `dspy-lsp is not installed in ${python}.`,
            };
        }
        return {
            kind: "broken-package",
            message: `dspy-lsp is installed in ${python} but cannot be imported: ${last}`,
        };
    }
    return {
        kind: "failed",
        message: `"${python}" could not import dspy_lsp.server (exit code ${String(outcome.exitCode)}): ${last}`,
    };
}

function lastLine(text: string): string {
    const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
    return lines[lines.length - 1] ?? "no error output";
}

function errorMessage(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
}
