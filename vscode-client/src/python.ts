/** The Python extension (ms-python.python), used when it is installed; everything here tolerates its absence. */
import * as vscode from "vscode";

const PYTHON_EXTENSION_ID = "ms-python.python";

export function pythonExtensionInstalled(): boolean {
    return vscode.extensions.getExtension(PYTHON_EXTENSION_ID) !== undefined;
}

/** The executable of the active environment for `resource`, or `undefined`. */
export async function activeEnvironmentPython(resource?: vscode.Uri): Promise<string | undefined> {
    if (!pythonExtensionInstalled()) {
        return undefined;
    }
    // Loaded lazily: the facade is only needed when the extension is there.
    const { PythonExtension } = await import("@vscode/python-extension");
    const api = await PythonExtension.api();
    const environments = api.environments;
    const environment = await environments.resolveEnvironment(environments.getActiveEnvironmentPath(resource));
    return environment?.executable.uri?.fsPath;
}

/** Calls `listener` when the user picks another environment; a no-op without the extension. */
export async function onActiveEnvironmentChanged(listener: () => void): Promise<vscode.Disposable> {
    if (!pythonExtensionInstalled()) {
        return new vscode.Disposable(() => undefined);
    }
    try {
        const { PythonExtension } = await import("@vscode/python-extension");
        const api = await PythonExtension.api();
        return api.environments.onDidChangeActiveEnvironmentPath(() => listener());
    } catch {
        return new vscode.Disposable(() => undefined);
    }
}
