/** Entry point: wires the server manager, the status bar, settings and the commands. */
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { readClientSettings, workspaceTrusted } from "./config";
import {
    cliArgs,
    cliContextFromDebugInfo,
    type ImportCheck,
    INSTALL_ARGS,
    type ResolvedInterpreter,
} from "./interpreter";
import { runProcess } from "./process";
import { onActiveEnvironmentChanged, pythonExtensionInstalled } from "./python";
import { ServerManager, ServerNotRunningError } from "./server";
import { RESTART_SETTINGS, SECTION } from "./settings";
import { MANAGE_TRUST_COMMAND, RESTART_COMMAND, SHOW_STATUS_COMMAND, StatusBar } from "./statusBar";
import {
    formatStatus,
    parseStatus,
    RESTRICTED_TEXT,
    summarizeFileAnalysis,
    summarizeWorkspaceAnalysis,
} from "./status";

// The server registers `dspy-lsp.analyzeFile` & co. itself (the language client turns them into
// VS Code commands), so the palette commands live under `dspy-lsp.client.`.
const COMMANDS = {
    analyzeFile: "dspy-lsp.client.analyzeFile",
    analyzeWorkspace: "dspy-lsp.client.analyzeWorkspace",
    showStatus: SHOW_STATUS_COMMAND,
    showProgramVersions: "dspy-lsp.client.showProgramVersions",
    optimizePrograms: "dspy-lsp.client.optimizePrograms",
    restartServer: RESTART_COMMAND,
    showOutput: "dspy-lsp.client.showOutput",
} as const;

const RESTART = "Restart";
const SHOW_OUTPUT = "Show Output";
const MANAGE_TRUST = "Manage Workspace Trust";

let manager: ServerManager | undefined;

export function activate(context: vscode.ExtensionContext): void {
    const output = vscode.window.createOutputChannel("dspy-lsp");
    const docsUrl = vscode.Uri.parse(String((context.extension.packageJSON as { homepage?: string }).homepage ?? ""));

    const showOutput = (): void => output.show(true);
    const offer = async (message: string, kind: "error" | "warning", ...items: string[]): Promise<void> => {
        const show = kind === "error" ? vscode.window.showErrorMessage : vscode.window.showWarningMessage;
        const choice = await show(message, ...items);
        if (choice === RESTART) {
            await server.restart("requested by the user");
        } else if (choice === SHOW_OUTPUT) {
            showOutput();
        }
    };

    const server: ServerManager = new ServerManager(
        output,
        {
            showSetupProblem: (check, interpreter) => void showSetupProblem(check, interpreter),
            showCrash: (message, willRestart) =>
                void (willRestart ? offer(message, "warning", SHOW_OUTPUT) : offer(message, "error", RESTART, SHOW_OUTPUT)),
        },
        storageDirectory(context, output),
    );
    manager = server;
    const statusBar = new StatusBar(server, () => readClientSettings().pollSeconds, () => !workspaceTrusted());
    context.subscriptions.push(output, server, statusBar);

    const manageTrust = async (): Promise<void> => {
        await vscode.commands.executeCommand(MANAGE_TRUST_COMMAND);
    };
    if (!workspaceTrusted()) {
        // Once per window; granting trust restarts the server with the LM tier (below).
        output.appendLine(`[client] ${RESTRICTED_TEXT}.`);
        void vscode.window
            .showInformationMessage(
                `${RESTRICTED_TEXT}. The rules still run; the workspace's LM, path and interpreter settings are ignored.`,
                MANAGE_TRUST,
            )
            .then((choice) => (choice === MANAGE_TRUST ? manageTrust() : undefined));
    }

    async function showSetupProblem(check: ImportCheck, interpreter: ResolvedInterpreter): Promise<void> {
        if (check.kind === "ok") {
            return;
        }
        const install = "Install dspy-lsp";
        const docs = "Open Docs";
        const settings = "Open Settings";
        const select = "Select Interpreter";
        if (check.kind === "no-interpreter" || check.kind === "too-old") {
            // In Restricted Mode the Python extension's choice is not used, so it is not offered.
            const canSelect = pythonExtensionInstalled() && workspaceTrusted();
            const items = canSelect ? [settings, select, RESTART] : [settings, RESTART];
            const how = canSelect
                ? "Set dspy-lsp.interpreter or select an interpreter with the Python extension."
                : workspaceTrusted()
                  ? "Set dspy-lsp.interpreter."
                  : "Set dspy-lsp.interpreter in your user settings (Restricted Mode ignores the workspace's).";
            const choice = await vscode.window.showErrorMessage(`${check.message} ${how}`, ...items);
            if (choice === settings) {
                await vscode.commands.executeCommand("workbench.action.openSettings", `${SECTION}.interpreter`);
            } else if (choice === select) {
                await vscode.commands.executeCommand("python.setInterpreter");
            } else if (choice === RESTART) {
                await server.restart("requested by the user");
            }
            return;
        }
        const items = check.kind === "failed" ? [SHOW_OUTPUT, docs, RESTART] : [install, docs, RESTART];
        const hint = check.kind === "failed" ? "" : ` Install it with "${interpreter.python} ${INSTALL_ARGS.join(" ")}".`;
        const choice = await vscode.window.showErrorMessage(`${check.message}${hint}`, ...items);
        if (choice === install) {
            await installPackage(interpreter.python);
        } else if (choice === docs) {
            await vscode.env.openExternal(docsUrl);
        } else if (choice === RESTART) {
            await server.restart("requested by the user");
        } else if (choice === SHOW_OUTPUT) {
            showOutput();
        }
    }

    async function installPackage(python: string): Promise<void> {
        output.appendLine(`[client] Running: ${python} ${INSTALL_ARGS.join(" ")}`);
        const outcome = await vscode.window.withProgress(
            { location: vscode.ProgressLocation.Notification, title: `Installing dspy-lsp into ${python}…` },
            () =>
                runProcess(python, INSTALL_ARGS, {
                    cwd: server.workingDirectory(),
                    timeoutMs: 15 * 60_000,
                    onOutput: (chunk) => output.append(chunk),
                }),
        );
        if (outcome.exitCode === 0) {
            void vscode.window.showInformationMessage("dspy-lsp installed; starting the server.");
            await server.restart("dspy-lsp was installed");
        } else {
            await offer(`Installing dspy-lsp failed (exit code ${String(outcome.exitCode ?? outcome.spawnError)}).`, "error", SHOW_OUTPUT, RESTART);
        }
    }

    /** Runs a server command; a stopped server gets a message with a Restart action instead. */
    async function runServerCommand(command: string, args: unknown[] = []): Promise<unknown> {
        try {
            return await server.executeServerCommand(command, args);
        } catch (error) {
            if (error instanceof ServerNotRunningError) {
                await offer("The dspy-lsp server is not running.", "error", RESTART, SHOW_OUTPUT);
            } else {
                await offer(`dspy-lsp: ${command} failed: ${error instanceof Error ? error.message : String(error)}`, "error", SHOW_OUTPUT);
            }
            return undefined;
        }
    }

    /**
     * Runs a CLI subcommand in a terminal, with `-P` and from the extension's working directory
     * (outside the workspace); the workspace and the server's registry and feedback store are
     * passed as options.
     */
    async function runInTerminal(name: string, subcommand: "programs-list" | "optimize"): Promise<void> {
        const python = server.interpreter?.python;
        if (python === undefined) {
            void offer("dspy-lsp has not found a Python interpreter yet.", "error", RESTART, SHOW_OUTPUT);
            return;
        }
        const folder = vscode.workspace.workspaceFolders?.[0];
        const debugInfo: unknown = await server.executeServerCommand("dspy-lsp.debugInfo").catch(() => undefined);
        const args = cliArgs(subcommand, cliContextFromDebugInfo(debugInfo, folder?.uri.scheme === "file" ? folder.uri.fsPath : undefined));
        const cwd = server.workingDirectory();
        output.appendLine(`[client] Terminal (in ${cwd}): ${python} ${args.join(" ")}`);
        const terminal = vscode.window.createTerminal({ name, shellPath: python, shellArgs: args, cwd: vscode.Uri.file(cwd) });
        terminal.show();
    }

    context.subscriptions.push(
        vscode.commands.registerCommand(COMMANDS.analyzeFile, async () => {
            const editor = vscode.window.activeTextEditor;
            if (editor === undefined || editor.document.languageId !== "python") {
                void vscode.window.showWarningMessage("dspy-lsp: open a Python file to analyse it.");
                return;
            }
            const document = editor.document;
            const result = await vscode.window.withProgress(
                { location: vscode.ProgressLocation.Window, title: "dspy-lsp: analysing" },
                () => runServerCommand("dspy-lsp.analyzeFile", [server.protocolUri(document.uri)]),
            );
            if (result !== undefined) {
                void vscode.window.showInformationMessage(summarizeFileAnalysis(result, path.basename(document.fileName)));
                void statusBar.refresh();
            }
        }),
        vscode.commands.registerCommand(COMMANDS.analyzeWorkspace, async () => {
            // The server reports cancellable progress itself.
            const result = await runServerCommand("dspy-lsp.analyzeWorkspace");
            if (result !== undefined) {
                void vscode.window.showInformationMessage(summarizeWorkspaceAnalysis(result));
                void statusBar.refresh();
            }
        }),
        vscode.commands.registerCommand(COMMANDS.showStatus, async () => {
            const raw = await runServerCommand("dspy-lsp.status");
            if (raw === undefined) {
                return;
            }
            const debug = await server.executeServerCommand("dspy-lsp.debugInfo").catch((error: unknown) => String(error));
            output.appendLine(`[client] dspy-lsp.status:\n${JSON.stringify(raw, null, 2)}`);
            output.appendLine(`[client] dspy-lsp.debugInfo:\n${JSON.stringify(debug, null, 2)}`);
            const status = parseStatus(raw);
            const view = status ? formatStatus(status, { restricted: !workspaceTrusted() }) : undefined;
            const summary = view ? view.tooltip.split("\n").slice(0, -1).join(" · ") : "unexpected answer";
            const choice = await vscode.window.showInformationMessage(`dspy-lsp: ${summary}`, SHOW_OUTPUT);
            if (choice === SHOW_OUTPUT) {
                showOutput();
            }
            void statusBar.refresh();
        }),
        vscode.commands.registerCommand(COMMANDS.showProgramVersions, () => runInTerminal("dspy-lsp programs", "programs-list")),
        vscode.commands.registerCommand(COMMANDS.optimizePrograms, async () => {
            if (!workspaceTrusted()) {
                // Optimizing calls the LM with the project's data; like the LM tier, it waits for trust.
                const choice = await vscode.window.showWarningMessage(
                    "dspy-lsp: Optimize Programs runs the LM, which is off in Restricted Mode. Trust this workspace first.",
                    MANAGE_TRUST,
                );
                if (choice === MANAGE_TRUST) {
                    await manageTrust();
                }
                return;
            }
            await runInTerminal("dspy-lsp optimize", "optimize");
        }),
        vscode.commands.registerCommand(COMMANDS.restartServer, () => server.restart("requested by the user")),
        vscode.commands.registerCommand(COMMANDS.showOutput, showOutput),
        vscode.workspace.onDidChangeConfiguration((event) => {
            if (!event.affectsConfiguration(SECTION)) {
                return;
            }
            if (RESTART_SETTINGS.some((key) => event.affectsConfiguration(`${SECTION}.${key}`))) {
                void server.restart("the interpreter, log level or trustProjectSettings setting changed");
                return;
            }
            if (event.affectsConfiguration(`${SECTION}.status.pollSeconds`)) {
                statusBar.reschedule();
            }
            void server.pushSettings().catch((error: unknown) => output.appendLine(`[client] Sending settings failed: ${String(error)}`));
        }),
        vscode.workspace.onDidGrantWorkspaceTrust(() => void server.restart("the workspace is now trusted")),
    );

    // Neither waits for the other: activation returns at once, the server starts in the background.
    void onActiveEnvironmentChanged(() => {
        // Restricted Mode does not use the Python extension's environment (see resolveInterpreter).
        if (workspaceTrusted() && !readClientSettings().interpreter?.trim()) {
            void server.restart("the Python extension's active environment changed");
        }
    }).then((subscription) => context.subscriptions.push(subscription));
    void server.start();
}

/** The extension's global storage directory, created if needed; `undefined` if it is not on disk. */
function storageDirectory(context: vscode.ExtensionContext, output: vscode.OutputChannel): string | undefined {
    const uri = context.globalStorageUri;
    if (uri.scheme !== "file") {
        return undefined;
    }
    try {
        mkdirSync(uri.fsPath, { recursive: true });
        return uri.fsPath;
    } catch (error) {
        output.appendLine(`[client] Cannot create ${uri.fsPath} (${String(error)}); the Python processes run in the temporary directory.`);
        return undefined;
    }
}

export async function deactivate(): Promise<void> {
    await manager?.stop();
    manager = undefined;
}
