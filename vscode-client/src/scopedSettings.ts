/**
 * Reading the extension's settings for one resource (a workspace folder or a document), as
 * `vscode.workspace.getConfiguration("dspy-lsp", uri)` layers them: folder over workspace over
 * user, and for a restricted setting in an untrusted window the user's value only.
 *
 * Pure: the configuration is passed in (VS Code's in config.ts, a fake one in the tests).
 */
import { parseImportStrategy, type ImportStrategy } from "./bundled";
import { RESTRICTED_SETTINGS, SERVER_KEYS } from "./settings";

/** The part of `WorkspaceConfiguration.inspect` the extension reads. */
export interface Inspection {
    readonly defaultValue?: unknown;
    readonly globalValue?: unknown;
    readonly workspaceValue?: unknown;
    readonly workspaceFolderValue?: unknown;
}

/** `getConfiguration("dspy-lsp", resource)`, or a stand-in for it. */
export interface ConfigurationView {
    inspect(key: string): Inspection | undefined;
}

const RESTRICTED: ReadonlySet<string> = new Set(RESTRICTED_SETTINGS);

/**
 * The value the user set for `key` at the most specific level (folder, workspace, user), or
 * `undefined`; defaults are not values the user set. In an untrusted window a restricted
 * setting is read from the user's settings only.
 */
export function explicitValue(config: ConfigurationView, key: string, trusted: boolean): unknown {
    const inspected = config.inspect(key);
    if (inspected === undefined) {
        return undefined;
    }
    if (RESTRICTED.has(key) && !trusted) {
        return inspected.globalValue;
    }
    return inspected.workspaceFolderValue ?? inspected.workspaceValue ?? inspected.globalValue;
}

/** The server settings set explicitly for this resource, keyed as under `dspy-lsp.` (`lm.apiBase`). */
export function explicitSettings(config: ConfigurationView, trusted: boolean): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    for (const key of SERVER_KEYS) {
        const value = explicitValue(config, key, trusted);
        if (value !== undefined) {
            result[key] = value;
        }
    }
    return result;
}

/** The settings the extension itself reads. */
export interface ClientSettings {
    readonly interpreter: string | undefined;
    readonly importStrategy: ImportStrategy;
    readonly logLevel: string;
    readonly pollSeconds: number;
    readonly maxRestarts: number;
}

export function clientSettings(config: ConfigurationView, trusted: boolean): ClientSettings {
    const value = (key: string): unknown => explicitValue(config, key, trusted) ?? config.inspect(key)?.defaultValue;
    const interpreter = value("interpreter");
    const logLevel = value("server.logLevel");
    const pollSeconds = value("status.pollSeconds");
    const maxRestarts = value("restart.maxAttempts");
    return {
        interpreter: typeof interpreter === "string" ? interpreter : undefined,
        importStrategy: parseImportStrategy(value("importStrategy")),
        logLevel: typeof logLevel === "string" ? logLevel : "warning",
        pollSeconds: typeof pollSeconds === "number" && Number.isFinite(pollSeconds) ? Math.max(0, pollSeconds) : 10,
        maxRestarts: typeof maxRestarts === "number" && Number.isFinite(maxRestarts) ? Math.max(0, Math.floor(maxRestarts)) : 5,
    };
}

