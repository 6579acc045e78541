/**
 * Which Python runs the server, and how to read the answer of the import check.
 *
 * Pure: the sources (the setting, the Python extension) are injected as probes, so the order
 * is unit-tested without VS Code.
 */

export type InterpreterSource = "setting" | "python-extension" | "default";

export interface InterpreterProbes {
    /** The raw `dspy-lsp.interpreter` setting, if any. */
    setting(): string | undefined;
    /**
     * The active environment's python from the Python extension; `undefined` when the
     * extension is not installed or has no environment. May throw.
     */
    pythonExtension(): Promise<string | undefined>;
}

export interface ExpandContext {
    readonly workspaceFolder?: string;
    readonly home?: string;
    readonly env: Readonly<Record<string, string | undefined>>;
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

/** Order: the `dspy-lsp.interpreter` setting, the Python extension's environment, `python3`. */
export async function resolveInterpreter(
    probes: InterpreterProbes,
    context: ExpandContext,
    fallback = "python3",
): Promise<ResolvedInterpreter> {
    const notes: string[] = [];
    const fromSetting = probes.setting()?.trim();
    if (fromSetting) {
        return { python: expandVariables(fromSetting, context), source: "setting", notes };
    }
    notes.push("dspy-lsp.interpreter is not set");
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

/** Arguments to `python` that start the server on stdio. */
export function serverArgs(logLevel: string): string[] {
    return ["-m", "dspy_lsp.server", "--log-level", logLevel.toUpperCase()];
}

export const IMPORT_CHECK_ARGS: readonly string[] = ["-c", "import dspy_lsp.server"];

/** `python -m pip install dspy-lsp`, as an argument list for `python`. */
export const INSTALL_ARGS: readonly string[] = ["-m", "pip", "install", "dspy-lsp"];

/** The CLI subcommands run in a terminal, as `python -m dspy_lsp.server.cli ...`. */
export function cliArgs(subcommand: "programs-list" | "optimize"): string[] {
    const rest = subcommand === "programs-list" ? ["programs", "list"] : ["optimize"];
    return ["-m", "dspy_lsp.server.cli", ...rest];
}

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
    | { readonly kind: "missing-package"; readonly message: string }
    | { readonly kind: "broken-package"; readonly message: string }
    | { readonly kind: "failed"; readonly message: string };

/** Reads the result of `<python> -c "import dspy_lsp.server"`. */
export function classifyImportCheck(python: string, outcome: ProcessOutcome): ImportCheck {
    if (outcome.spawnError !== undefined) {
        const why = outcome.spawnError === "ENOENT" ? "was not found" : `could not be run (${outcome.spawnError})`;
        return { kind: "no-interpreter", message: `Python interpreter "${python}" ${why}.` };
    }
    if (outcome.timedOut) {
        return { kind: "failed", message: `"${python} -c 'import dspy_lsp.server'" did not finish in time.` };
    }
    if (outcome.exitCode === 0) {
        return { kind: "ok" };
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
