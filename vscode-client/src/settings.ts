/**
 * Translation of the extension's VS Code settings (`dspy-lsp.lm.apiBase`, camelCase) into
 * the object the dspy-lsp server reads (`{"lm": {"api_base": ...}}`, snake_case).
 *
 * Pure: no `vscode` import, so it is unit-tested with node's test runner.
 *
 * The server settings are not listed here: they are the properties of the package.json category
 * generated from the server's settings model (`python -m dspy_lsp.server.settings_schema
 * --vscode`), each checked against its own JSON schema there. A setting added to the model
 * reaches the server without a change to this file.
 *
 * Only settings the user set explicitly are sent. The server ranks editor settings above
 * `[tool.dspy-lsp]` in pyproject.toml, so sending VS Code's defaults would silently override a
 * project's own configuration.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The configuration section, the server's key for it, and the language client id. */
export const SECTION = "dspy-lsp";

/** The title of the package.json category generated from the server's settings model. */
export const SERVER_CATEGORY = "dspy-lsp server";

/** The part of a setting's JSON schema (package.json) the translation checks values against. */
export interface SettingSchema {
    readonly type?: string | readonly string[];
    readonly items?: SettingSchema;
    readonly enum?: readonly unknown[];
    readonly properties?: Readonly<Record<string, SettingSchema>>;
    readonly required?: readonly string[];
    readonly restricted?: boolean;
}

export interface SettingsCategory {
    readonly title?: string;
    readonly properties: Readonly<Record<string, SettingSchema>>;
}

interface ServerSetting {
    /** The key under `dspy-lsp.` in VS Code. */
    readonly key: string;
    /** Where the value goes in the server's settings object. */
    readonly path: readonly string[];
    readonly schema: SettingSchema;
}

/** The categories of `contributes.configuration` in the extension's package.json. */
export function manifestCategories(manifestPath = join(__dirname, "..", "package.json")): readonly SettingsCategory[] {
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as {
        contributes: { configuration: SettingsCategory | SettingsCategory[] };
    };
    const configuration = manifest.contributes.configuration;
    return Array.isArray(configuration) ? configuration : [configuration];
}

/** The server settings of these categories: every property of the generated one, in its order. */
export function serverSettingsOf(categories: readonly SettingsCategory[]): readonly ServerSetting[] {
    const generated = categories.find((c) => c.title === SERVER_CATEGORY);
    return Object.entries(generated?.properties ?? {}).map(([name, schema]) => {
        const key = name.slice(SECTION.length + 1);
        return { key, path: key.split(".").map(camelToSnake), schema };
    });
}

const CATEGORIES = manifestCategories();

/** Every server setting the extension exposes, in the order of the server's settings model. */
export const SERVER_SETTINGS: readonly ServerSetting[] = serverSettingsOf(CATEGORIES);

/** Settings read by the extension itself, never sent to the server. */
export const CLIENT_SETTINGS = [
    "interpreter",
    "importStrategy",
    "server.logLevel",
    "status.pollSeconds",
    "restart.maxAttempts",
    "trace.server",
    "trustProjectSettings",
] as const;

/**
 * Every setting package.json marks `"restricted": true`: it chooses an endpoint, a model, a key
 * variable, a file or directory, a process or a budget (the server's trusted-only keys, the
 * interpreter and `trustProjectSettings`). VS Code ignores their workspace values in Restricted
 * Mode, and the extension reads only their user-level values while the workspace is untrusted.
 */
export const RESTRICTED_SETTINGS: readonly string[] = CATEGORIES.flatMap((c) =>
    Object.entries(c.properties)
        .filter(([, schema]) => schema.restricted === true)
        .map(([name]) => name.slice(SECTION.length + 1)),
);

/** Whether a setting under `dspy-lsp.` is restricted (see `RESTRICTED_SETTINGS`). */
export function isRestrictedSetting(key: string): boolean {
    return RESTRICTED_SETTINGS.includes(key);
}

/** Client settings whose change needs a new server process (trust goes in initializationOptions only). */
export const RESTART_SETTINGS: readonly string[] = ["interpreter", "importStrategy", "server.logLevel", "trustProjectSettings"];

/** Every key the extension reads under `dspy-lsp.` for the server. */
export const SERVER_KEYS: readonly string[] = SERVER_SETTINGS.map((s) => s.key);

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
        const result = convert(spec.schema, raw);
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

/** One item of the server's `workspace/configuration` pull. */
export interface ConfigurationItem {
    readonly section?: string;
    /** The folder or document the settings are asked for; none: the window's. */
    readonly scopeUri?: string;
}

/**
 * The answer to a `workspace/configuration` pull: each `dspy-lsp` item gets the translated
 * settings of its own scope (never the raw VS Code ones), every other item what VS Code
 * answered (`defaults`, in the same order).
 */
export function answerConfiguration(
    items: readonly ConfigurationItem[],
    defaults: readonly unknown[],
    settingsFor: (scopeUri: string | undefined) => ServerSettings,
): unknown[] {
    return items.map((item, index) => (item.section === SECTION ? settingsFor(item.scopeUri) : defaults[index]));
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

/** The value's own type, whatever `null` its schema also allows. */
function baseType(schema: SettingSchema): string | undefined {
    const types = typeof schema.type === "string" ? [schema.type] : (schema.type ?? []);
    return types.find((t) => t !== "null");
}

function convert(schema: SettingSchema, raw: unknown): Converted {
    switch (baseType(schema)) {
        case "string":
            if (typeof raw !== "string") {
                return { problems: [`expected a string, got ${show(raw)}`] };
            }
            if (raw.trim() === "") {
                return { problems: [] };
            }
            return schema.enum === undefined || schema.enum.includes(raw.trim())
                ? { value: raw.trim(), problems: [] }
                : { problems: [`expected ${oneOf(schema.enum)}, got ${show(raw)}`] };
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
        case "array":
            return list(schema.items ?? {}, raw);
        default:
            return { problems: [`no translation for a setting of type ${show(schema.type)}`] };
    }
}

function list(items: SettingSchema, raw: unknown): Converted {
    if (baseType(items) === "object") {
        return objects(items, raw);
    }
    const strings = stringList(raw);
    if (items.enum === undefined || !Array.isArray(strings.value)) {
        return strings;
    }
    const allowed = items.enum;
    const values = strings.value as string[];
    return {
        value: [...new Set(values.filter((v) => allowed.includes(v)))],
        problems: [
            ...strings.problems,
            ...values.filter((v) => !allowed.includes(v)).map((v) => `unknown value ${show(v)} (use ${oneOf(allowed)})`),
        ],
    };
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

/** A list of objects such as `overrides`: each entry's keys checked against the item schema. */
function objects(items: SettingSchema, raw: unknown): Converted {
    const properties = items.properties ?? {};
    const keys = Object.keys(properties);
    if (!Array.isArray(raw)) {
        return { problems: [`expected a list of {${keys.join(", ")}} objects, got ${show(raw)}`] };
    }
    const value: Record<string, unknown>[] = [];
    const problems: string[] = [];
    raw.forEach((item: unknown, index) => {
        if (typeof item !== "object" || item === null || Array.isArray(item)) {
            problems.push(`[${index}]: expected an object, got ${show(item)}`);
            return;
        }
        const entry = item as Record<string, unknown>;
        const out: Record<string, unknown> = {};
        const entryProblems: string[] = [];
        for (const [key, schema] of Object.entries(properties)) {
            if (entry[key] === undefined || entry[key] === null) {
                continue;
            }
            const converted = convert(schema, entry[key]);
            entryProblems.push(...converted.problems.map((p) => `[${index}].${key}: ${p}`));
            if (converted.value !== undefined) {
                out[key] = converted.value;
            }
        }
        const missing = (items.required ?? []).filter((key) => out[key] === undefined);
        if (missing.length > 0) {
            problems.push(`[${index}]: needs ${missing.map((k) => show(k)).join(" and ")}; entry ignored`);
            return;
        }
        problems.push(...entryProblems);
        for (const key of Object.keys(entry).filter((k) => !keys.includes(k))) {
            problems.push(`[${index}]: ignoring unknown key ${show(key)}`);
        }
        value.push(out);
    });
    return { value, problems };
}

function oneOf(values: readonly unknown[]): string {
    const shown = values.map((v) => String(v));
    return shown.length > 1 ? `${shown.slice(0, -1).join(", ")} or ${shown[shown.length - 1]}` : (shown[0] ?? "nothing");
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
