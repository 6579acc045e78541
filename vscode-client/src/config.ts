/** Reading the extension's settings from VS Code (the only settings code that imports vscode). */
import * as vscode from "vscode";
import { SECTION, SERVER_KEYS } from "./settings";

/** Settings that a workspace may not set while it is untrusted (they pick what code runs or where keys go). */
export const RESTRICTED_KEYS: ReadonlySet<string> = new Set([
    "interpreter",
    "lm.model",
    "lm.apiBase",
    "lm.apiKeyEnv",
    "lm.cachePath",
    "lm.programsDir",
]);

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
    if (RESTRICTED_KEYS.has(key) && !vscode.workspace.isTrusted) {
        return user;
    }
    return inspected.workspaceFolderValue ?? inspected.workspaceValue ?? user;
}
