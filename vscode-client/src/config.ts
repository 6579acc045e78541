/** Reading the extension's settings from VS Code (the only settings code that imports vscode). */
import * as vscode from "vscode";
import { RESTRICTED_SETTINGS, SECTION, SERVER_KEYS, type SessionTrust } from "./settings";

/**
 * Settings that a workspace may not set while it is untrusted (they choose an endpoint, a model,
 * a key variable, a path, a process or a budget). package.json marks them `"restricted": true`.
 */
export const RESTRICTED_KEYS: ReadonlySet<string> = new Set(RESTRICTED_SETTINGS);

/** False in Restricted Mode (an untrusted workspace). */
export function workspaceTrusted(): boolean {
    return vscode.workspace.isTrusted;
}

/** The window's trust, for `buildInitializationOptions`. */
export function readSessionTrust(): SessionTrust {
    const config = vscode.workspace.getConfiguration(SECTION);
    // Application scope: only the user's own settings can hold it; a workspace value is ignored.
    const trustProjectSettings = config.inspect<boolean>("trustProjectSettings")?.globalValue === true;
    return { workspaceTrusted: workspaceTrusted(), trustProjectSettings };
}

/** The user-level `python.defaultInterpreterPath`, the one interpreter hint Restricted Mode takes from the Python settings. */
export function readUserPythonSetting(): string | undefined {
    const value = vscode.workspace.getConfiguration("python").inspect<string>("defaultInterpreterPath")?.globalValue;
    return typeof value === "string" ? value : undefined;
}

/**
 * The server settings the user set explicitly (user, workspace or folder level), keyed as
 * under `dspy-lsp.`. Defaults are left out so pyproject.toml keeps its say.
 */
export function readExplicitSettings(resource?: vscode.Uri): Record<string, unknown> {
    const config = vscode.workspace.getConfiguration(SECTION, resource);
    const result: Record<string, unknown> = {};
    for (const key of SERVER_KEYS) {
        const value = explicitValue(config, key);
        if (value !== undefined) {
            result[key] = value;
        }
    }
    return result;
}

export interface ClientSettings {
    readonly interpreter: string | undefined;
    readonly logLevel: string;
    readonly pollSeconds: number;
    readonly maxRestarts: number;
}

export function readClientSettings(resource?: vscode.Uri): ClientSettings {
    const config = vscode.workspace.getConfiguration(SECTION, resource);
    const interpreter = explicitValue(config, "interpreter");
    return {
        interpreter: typeof interpreter === "string" ? interpreter : undefined,
        logLevel: config.get<string>("server.logLevel", "warning"),
        pollSeconds: Math.max(0, config.get<number>("status.pollSeconds", 10)),
        maxRestarts: Math.max(0, Math.floor(config.get<number>("restart.maxAttempts", 5))),
    };
}

function explicitValue(config: vscode.WorkspaceConfiguration, key: string): unknown {
    const inspected = config.inspect(key);
    if (inspected === undefined) {
        return undefined;
    }
    const user = inspected.globalValue;
    if (RESTRICTED_KEYS.has(key) && !workspaceTrusted()) {
        return user;
    }
    return inspected.workspaceFolderValue ?? inspected.workspaceValue ?? user;
}
