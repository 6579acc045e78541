/**
 * Translation of the extension's VS Code settings (`dspy-lsp.lm.apiBase`, camelCase) into
 * the object the dspy-lsp server reads (`{"lm": {"api_base": ...}}`, snake_case).
 *
 * Pure: no `vscode` import, so it is unit-tested with node's test runner.
 *
 * Only settings the user set explicitly are sent. The server ranks editor settings above
 * `[tool.dspy-lsp]` in pyproject.toml, so sending VS Code's defaults would silently override a
 * project's own configuration.
 */

/** The configuration section, the server's key for it, and the language client id. */
export const SECTION = "dspy-lsp";

type Kind = "string" | "stringList" | "integer" | "number" | "boolean" | "runOn" | "overrides";

interface ServerSetting {
    /** The key under `dspy-lsp.` in VS Code. */
    readonly key: string;
    /** Where the value goes in the server's settings object. */
    readonly path: readonly string[];
    readonly kind: Kind;
}

const setting = (key: string, kind: Kind): ServerSetting => ({
    key,
    path: key.split(".").map(camelToSnake),
    kind,
});

/** Every server setting the extension exposes, in the order of the server's README. */
export const SERVER_SETTINGS: readonly ServerSetting[] = [
    setting("select", "stringList"),
    setting("ignore", "stringList"),
    setting("overrides", "overrides"),
    setting("exclude", "stringList"),
    setting("debounceMs", "integer"),
    setting("maxFileChars", "integer"),
    setting("lm.model", "string"),
    setting("lm.apiBase", "string"),
    setting("lm.apiKeyEnv", "string"),
    setting("lm.temperature", "number"),
    setting("lm.maxTokens", "integer"),
    setting("lm.timeoutS", "number"),
    setting("lm.maxConcurrency", "integer"),
    setting("lm.requestsPerMinute", "integer"),
    setting("lm.maxAttempts", "integer"),
    setting("lm.breakerFailures", "integer"),
    setting("lm.breakerResetS", "number"),
    setting("lm.runOn", "runOn"),
    setting("lm.planAttempts", "integer"),
    setting("lm.cachePath", "string"),
    setting("lm.programsDir", "string"),
    setting("lm.maxQueue", "integer"),
    setting("feedback.enabled", "boolean"),
    setting("feedback.path", "string"),
    setting("feedback.ignoreAfterSaves", "integer"),
    setting("learn.auto", "boolean"),
    setting("learn.minNewLabels", "integer"),
];

/** Settings read by the extension itself, never sent to the server. */
export const CLIENT_SETTINGS = [
    "interpreter",
    "server.logLevel",
    "status.pollSeconds",
    "restart.maxAttempts",
    "trace.server",
    "trustProjectSettings",
] as const;

/**
 * Whether a setting under `dspy-lsp.` chooses an endpoint, a model, a key variable, a file or
 * directory, a process or a budget: every `lm.*` setting but `lm.runOn`, `feedback.path`, every
 * `learn.*`, the interpreter and `trustProjectSettings`. package.json marks exactly these
 * `"restricted": true`, so VS Code ignores their workspace values in Restricted Mode, and the
 * extension reads only their user-level values while the workspace is untrusted.
 */
export function isRestrictedSetting(key: string): boolean {
    if (key === "interpreter" || key === "trustProjectSettings" || key === "feedback.path") {
        return true;
    }
    return (key.startsWith("lm.") && key !== "lm.runOn") || key.startsWith("learn.");
}

/** Every restricted key the extension has (see `isRestrictedSetting`). */
export const RESTRICTED_SETTINGS: readonly string[] = [...CLIENT_SETTINGS, ...SERVER_SETTINGS.map((s) => s.key)].filter(
    isRestrictedSetting,
);

/** Client settings whose change needs a new server process (trust goes in initializationOptions only). */
export const RESTART_SETTINGS: readonly string[] = ["interpreter", "server.logLevel", "trustProjectSettings"];

/** Every key the extension reads under `dspy-lsp.` for the server. */
export const SERVER_KEYS: readonly string[] = SERVER_SETTINGS.map((s) => s.key);

const RUN_ON = new Set(["open", "save", "command"]);
const OVERRIDE_KEYS = new Set(["path", "select", "ignore"]);

export type ServerSettings = Record<string, unknown>;

export interface Translation {
    /** The object to put under `dspy-lsp` in initializationOptions and didChangeConfiguration. */
    readonly settings: ServerSettings;
    /** Values that were dropped, one readable line each. */
    readonly problems: readonly string[];
}

export function camelToSnake(name: string): string {
    return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * `explicit` maps keys under `dspy-lsp.` (e.g. `lm.apiBase`) to the values the user set; keys
 * the user did not set are absent or `undefined`. `null` and `""` also mean "not set".
 */
export function toServerSettings(explicit: Readonly<Record<string, unknown>>): Translation {
    const settings: ServerSettings = {};
    const problems: string[] = [];
    for (const spec of SERVER_SETTINGS) {
        const raw = explicit[spec.key];
        if (raw === undefined || raw === null) {
            continue;
        }
        const result = convert(spec.kind, raw);
        problems.push(...result.problems.map((p) => `${SECTION}.${spec.key}: ${p}`));
        if (result.value !== undefined) {
            put(settings, spec.path, result.value);
        }
    }
    return { settings, problems };
}

/** The payload for `initializationOptions` and `workspace/didChangeConfiguration`. */
export function wrapSection(settings: ServerSettings): Record<string, ServerSettings> {
    return { [SECTION]: settings };
}

/** What the window's trust allows, read at each server start. */
export interface SessionTrust {
    /** `vscode.workspace.isTrusted`: false in Restricted Mode. */
    readonly workspaceTrusted: boolean;
    /** The user-level `dspy-lsp.trustProjectSettings` setting. */
    readonly trustProjectSettings: boolean;
}

/**
 * The `initializationOptions` of the server: the translated settings under `dspy-lsp` and,
 * beside them, the session's trust. In Restricted Mode `restrictedMode: true` (the server turns
 * the LM tier and learning off); in a trusted workspace whose user opted in with
 * `dspy-lsp.trustProjectSettings`, `trustProject: true` (the project's `[tool.dspy-lsp]` may then
 * choose the LM endpoint, model, key variable, data paths and learning). Neither key is sent
 * otherwise, and never both.
 */
export function buildInitializationOptions(settings: ServerSettings, trust: SessionTrust): Record<string, unknown> {
    const options: Record<string, unknown> = wrapSection(settings);
    if (!trust.workspaceTrusted) {
        options.restrictedMode = true;
    } else if (trust.trustProjectSettings) {
        options.trustProject = true;
    }
    return options;
}

/** Whether two translations would tell the server the same thing. */
export function sameSettings(a: ServerSettings, b: ServerSettings): boolean {
    return canonical(a) === canonical(b);
}

interface Converted {
    readonly value?: unknown;
    readonly problems: readonly string[];
}

function convert(kind: Kind, raw: unknown): Converted {
    switch (kind) {
        case "string":
            if (typeof raw !== "string") {
                return { problems: [`expected a string, got ${show(raw)}`] };
            }
            return raw.trim() === "" ? { problems: [] } : { value: raw.trim(), problems: [] };
        case "integer":
            return typeof raw === "number" && Number.isInteger(raw)
                ? { value: raw, problems: [] }
                : { problems: [`expected an integer, got ${show(raw)}`] };
        case "number":
            return typeof raw === "number" && Number.isFinite(raw)
                ? { value: raw, problems: [] }
                : { problems: [`expected a number, got ${show(raw)}`] };
        case "boolean":
            return typeof raw === "boolean"
                ? { value: raw, problems: [] }
                : { problems: [`expected true or false, got ${show(raw)}`] };
        case "stringList":
            return stringList(raw);
        case "runOn": {
            const list = stringList(raw);
            if (!Array.isArray(list.value)) {
                return list;
            }
            const values = list.value as string[];
            const unknown = values.filter((v) => !RUN_ON.has(v));
            return {
                value: [...new Set(values.filter((v) => RUN_ON.has(v)))],
                problems: [
                    ...list.problems,
                    ...unknown.map((v) => `unknown trigger ${show(v)} (use open, save or command)`),
                ],
            };
        }
        case "overrides":
            return overrides(raw);
    }
}

function stringList(raw: unknown): Converted {
    if (!Array.isArray(raw)) {
        return { problems: [`expected a list of strings, got ${show(raw)}`] };
    }
    const problems = raw
        .filter((item) => typeof item !== "string")
        .map((item) => `ignoring ${show(item)}, not a string`);
    const value = raw
        .filter((item): item is string => typeof item === "string")
        .map((item) => item.trim())
        .filter((item) => item !== "");
    return { value, problems };
}

function overrides(raw: unknown): Converted {
    if (!Array.isArray(raw)) {
        return { problems: [`expected a list of {path, select, ignore} objects, got ${show(raw)}`] };
    }
    const value: Record<string, unknown>[] = [];
    const problems: string[] = [];
    raw.forEach((item: unknown, index) => {
        if (typeof item !== "object" || item === null || Array.isArray(item)) {
            problems.push(`[${index}]: expected an object, got ${show(item)}`);
            return;
        }
        const entry = item as Record<string, unknown>;
        if (typeof entry.path !== "string" || entry.path.trim() === "") {
            problems.push(`[${index}]: needs a "path" glob; entry ignored`);
            return;
        }
        const out: Record<string, unknown> = { path: entry.path.trim() };
        for (const key of ["select", "ignore"] as const) {
            if (entry[key] === undefined) {
                continue;
            }
            const list = stringList(entry[key]);
            problems.push(...list.problems.map((p) => `[${index}].${key}: ${p}`));
            if (list.value !== undefined) {
                out[key] = list.value;
            }
        }
        for (const key of Object.keys(entry).filter((k) => !OVERRIDE_KEYS.has(k))) {
            problems.push(`[${index}]: ignoring unknown key ${show(key)}`);
        }
        value.push(out);
    });
    return { value, problems };
}

function put(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
    let node = target;
    for (const part of path.slice(0, -1)) {
        const next = node[part];
        if (typeof next === "object" && next !== null && !Array.isArray(next)) {
            node = next as Record<string, unknown>;
        } else {
            const created: Record<string, unknown> = {};
            node[part] = created;
            node = created;
        }
    }
    node[path[path.length - 1] as string] = value;
}

function canonical(value: unknown): string {
    return JSON.stringify(value, (_key, v: unknown) =>
        typeof v === "object" && v !== null && !Array.isArray(v)
            ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
            : v,
    );
}

function show(value: unknown): string {
    return JSON.stringify(value) ?? String(value);
}
