/**
 * The CLI command lines the extension runs in a terminal (`programs list`, `optimize`), and
 * what they are told: the terminal runs outside the workspace, so the workspace, the server's
 * paths and the editor's LM settings are passed as options. Pure.
 */
import { PYTHON_FLAGS } from "./interpreter";
import { pathApi } from "./process";

export type CliSubcommand = "programs-list" | "optimize";

/** The model and how to reach it; `optimize` takes them together (`--lm`, `--api-base`, `--api-key-env`). */
export interface LmConnection {
    readonly model: string;
    readonly apiBase?: string;
    readonly apiKeyEnv?: string;
}

export interface CliContext {
    /** The workspace folder `optimize` reads feedback and `[tool.dspy-lsp]` of. */
    readonly workspace?: string;
    /** The program registry (`lm.programs_dir`). */
    readonly programsDir?: string;
    /** The feedback store (`feedback.path`). */
    readonly store?: string;
    /** The LM `optimize` compiles with; without one it stops with "no LM". */
    readonly lm?: LmConnection;
    readonly optimizer?: string;
    readonly budget?: number;
    readonly maxRequests?: number;
    readonly maxTokens?: number;
    /**
     * The running server's resolved settings, handed over whole with `--settings-json` (as the
     * server hands them to `learn`), so the run loses no editor setting (the LM's temperature,
     * timeouts, the learning ceilings) and the project's untrusted keys stay ignored.
     */
    readonly settingsJson?: string;
}

/** `python -P -m dspy_lsp.server.cli <subcommand> <options>`, as arguments for `python`. */
export function cliArgs(subcommand: CliSubcommand, context: CliContext = {}): string[] {
    if (subcommand === "programs-list") {
        const options = context.programsDir ? ["--programs-dir", context.programsDir] : [];
        return [...PYTHON_FLAGS, "-m", "dspy_lsp.server.cli", "programs", "list", ...options];
    }
    const options: string[] = [];
    const add = (flag: string, value: string | number | undefined): void => {
        if (value !== undefined && value !== "") {
            options.push(flag, String(value));
        }
    };
    add("--workspace", context.workspace);
    add("--programs-dir", context.programsDir);
    add("--store", context.store);
    if (context.lm !== undefined) {
        add("--lm", context.lm.model);
        add("--api-base", context.lm.apiBase);
        add("--api-key-env", context.lm.apiKeyEnv);
    }
    add("--optimizer", context.optimizer);
    add("--budget", context.budget);
    add("--max-requests", context.maxRequests);
    add("--max-tokens", context.maxTokens);
    add("--settings-json", context.settingsJson);
    return [...PYTHON_FLAGS, "-m", "dspy_lsp.server.cli", "optimize", ...options];
}

export interface CliInputs {
    /** The folder the command acts on. */
    readonly workspace?: string;
    /**
     * The settings the user set explicitly for that folder, keyed as under `dspy-lsp.`
     * (`lm.model`, `lm.apiBase`, ...), as `readExplicitSettings(folder)` returns them.
     */
    readonly editor: Readonly<Record<string, unknown>>;
    /** The running server's `dspy-lsp.debugInfo` answer, if it gave one. */
    readonly debugInfo?: unknown;
    readonly platform?: string;
}

/**
 * What the terminal commands are told. The LM connection is the editor's for the folder when it
 * names a model there, else the one the server resolved (editor settings, user config, a trusted
 * project); the connection travels whole, since `optimize` replaces all three parts when given
 * one. Paths are taken only when absolute: a relative one would mean something else outside
 * the workspace.
 */
export function cliContext(inputs: CliInputs): CliContext {
    const { editor, platform } = inputs;
    const settings = field(inputs.debugInfo, "settings");
    const serverLm = field(settings, "lm");
    const absolute = (value: unknown): string | undefined =>
        typeof value === "string" && value !== "" && pathApi(platform).isAbsolute(value) ? value : undefined;
    return {
        workspace: inputs.workspace,
        programsDir: absolute(editor["lm.programsDir"]) ?? absolute(field(serverLm, "programs_dir")),
        store: absolute(editor["feedback.path"]) ?? absolute(field(field(settings, "feedback"), "path")),
        lm:
            connection(editor["lm.model"], editor["lm.apiBase"], editor["lm.apiKeyEnv"]) ??
            connection(field(serverLm, "model"), field(serverLm, "api_base"), field(serverLm, "api_key_env")),
        optimizer: text(editor["learn.optimizer"]),
        budget: count(editor["learn.budget"]),
        maxRequests: count(editor["learn.maxRequests"]),
        maxTokens: count(editor["learn.maxTokens"]),
        settingsJson: isRecord(settings) ? JSON.stringify(settings) : undefined,
    };
}

function connection(model: unknown, apiBase: unknown, apiKeyEnv: unknown): LmConnection | undefined {
    const name = text(model);
    if (name === undefined) {
        return undefined;
    }
    const base = text(apiBase);
    const keyEnv = text(apiKeyEnv);
    return { model: name, ...(base === undefined ? {} : { apiBase: base }), ...(keyEnv === undefined ? {} : { apiKeyEnv: keyEnv }) };
}

function text(value: unknown): string | undefined {
    return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

function count(value: unknown): number | undefined {
    return typeof value === "number" && Number.isInteger(value) && value >= 1 ? value : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

function field(value: unknown, key: string): unknown {
    return isRecord(value) ? value[key] : undefined;
}
