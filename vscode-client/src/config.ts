/**
 * Reading the extension's settings from VS Code (the only settings code that imports vscode),
 * each for a resource: a workspace folder or a document, so a multi-root workspace's folders
 * can differ (see scopedSettings.ts for the layering).
 */
import * as vscode from "vscode";
import { type ClientSettings, clientSettings, explicitSettings } from "./scopedSettings";
import { SECTION, type SessionTrust } from "./settings";

export type { ClientSettings } from "./scopedSettings";

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
 * The server settings the user set explicitly for `resource` (user, workspace or that
 * folder's level), keyed as under `dspy-lsp.`. Defaults are left out so pyproject.toml keeps
 * its say.
 */
export function readExplicitSettings(resource?: vscode.Uri): Record<string, unknown> {
    return explicitSettings(vscode.workspace.getConfiguration(SECTION, resource), workspaceTrusted());
}

export function readClientSettings(resource?: vscode.Uri): ClientSettings {
    return clientSettings(vscode.workspace.getConfiguration(SECTION, resource), workspaceTrusted());
}

/**
 * The folder one server serves the window for: its settings and interpreter start the server.
 * The first workspace folder, as before multi-root support, so a restart never depends on which
 * editor happens to be active.
 */
export function serverFolder(): vscode.WorkspaceFolder | undefined {
    return vscode.workspace.workspaceFolders?.[0];
}

/**
 * The folder a command about "this project" acts on: the active editor's folder, else the only
 * folder, else one the user picks; `undefined` when there is none or the pick was dismissed.
 */
export async function activeFolder(): Promise<vscode.WorkspaceFolder | undefined> {
    const document = vscode.window.activeTextEditor?.document;
    const owner = document === undefined ? undefined : vscode.workspace.getWorkspaceFolder(document.uri);
    if (owner !== undefined) {
        return owner;
    }
    const folders = vscode.workspace.workspaceFolders ?? [];
    if (folders.length <= 1) {
        return folders[0];
    }
    return vscode.window.showWorkspaceFolderPick({ placeHolder: "The workspace folder to run dspy-lsp on" });
}
