/** Entry point: wires the server manager, the language status, settings and the commands. */
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import type { InstallTarget } from "./bundled";
import { cliArgs, cliContext, type CliSubcommand } from "./cli";
import { activeFolder, readClientSettings, readExplicitSettings, serverFolder, workspaceTrusted } from "./config";
import { DashboardError, DashboardProcess } from "./dashboard";
import type { InstallOutcome } from "./install";
import type { ImportCheck, ResolvedInterpreter } from "./interpreter";
import { LanguageStatus, MANAGE_TRUST_COMMAND, RESTART_COMMAND, SHOW_STATUS_COMMAND } from "./languageStatus";
import { onActiveEnvironmentChanged, pythonExtensionInstalled } from "./python";
import { ServerManager, ServerNotRunningError } from "./server";
import { RESTART_SETTINGS, SECTION } from "./settings";
import {
    parseStatus,
    RESTRICTED_TEXT,
    statusLines,
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
    showDashboard: "dspy-lsp.client.showDashboard",
} as const;

const RESTART = "Restart";
const SHOW_OUTPUT = "Show Output";
const MANAGE_TRUST = "Manage Workspace Trust";

let manager: ServerManager | undefined;
let dashboard: DashboardProcess | undefined;

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
        { storageDir: storageDirectory(context, output), bundledDir: path.join(context.extensionPath, "bundled") },
    );
    manager = server;
    const statusItem = new LanguageStatus(server, () => readClientSettings(serverFolder()?.uri).pollSeconds, () => !workspaceTrusted());
    const dashboardProcess = new DashboardProcess({ onOutput: (chunk) => output.append(`[dashboard] ${chunk}`) });
    dashboard = dashboardProcess;
    context.subscriptions.push(output, server, statusItem, dashboardProcess);

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
        const canInstall = check.kind !== "failed" && server.bundle() !== undefined;
        const items = canInstall ? [install, docs, RESTART] : [SHOW_OUTPUT, docs, RESTART];
        const hint = canInstall
            ? " Install the dspy-lsp bundled with the extension?"
            : check.kind === "missing-package"
              ? " This build of the extension bundles no wheel: install dspy-lsp there with pip (pip install -e . in its repository)."
              : "";
        const choice = await vscode.window.showErrorMessage(`${check.message}${hint}`, ...items);
        if (choice === install) {
            await installPackage(interpreter);
        } else if (choice === docs) {
            await vscode.env.openExternal(docsUrl);
        } else if (choice === RESTART) {
            await server.restart("requested by the user");
        } else if (choice === SHOW_OUTPUT) {
            showOutput();
        }
    }

    /**
     * "Install dspy-lsp": the wheel bundled in the .vsix (there is no PyPI release), with its
     * dependencies from the index, into the interpreter or into a private environment under the
     * extension's global storage, as the user picks. The interpreter is the one resolved under
     * the trust rules, so nothing inside an untrusted workspace is run.
     */
    async function installPackage(interpreter: ResolvedInterpreter): Promise<void> {
        const bundle = server.bundle();
        if (bundle === undefined) {
            await offer("This build of the extension has no bundled dspy-lsp wheel (npm run package builds it).", "error", SHOW_OUTPUT);
            return;
        }
        // A failed import check of the private environment itself offers the environment only.
        const base = interpreter.source === "private-env" ? server.interpreter : interpreter;
        const targets: (vscode.QuickPickItem & { target: InstallTarget })[] = [];
        if (interpreter.source !== "private-env") {
            targets.push({
                label: `Into ${interpreter.python}`,
                description: "pip install the bundled wheel",
                target: { kind: "interpreter", python: interpreter.python },
            });
        }
        if (bundle.env !== undefined && base !== undefined) {
            targets.push({
                label: "Into a private environment",
                description: `a venv made by ${base.python}`,
                detail: bundle.env.dir,
                target: { kind: "private-env", basePython: base.python, env: bundle.env },
            });
        }
        const picked = targets.length === 1 ? targets[0] : await vscode.window.showQuickPick(targets, { title: `Install ${path.basename(bundle.wheel)}` });
        if (picked === undefined) {
            return;
        }
        // A private environment that failed its import check is made again.
        const outcome = await runInstall(picked.target, bundle.wheel, interpreter.source === "private-env");
        if (outcome.ok) {
            void vscode.window.showInformationMessage("dspy-lsp installed; starting the server.");
            await server.restart("dspy-lsp was installed");
            return;
        }
        output.appendLine(`[client] ${outcome.message}`);
        const privateEnv = targets.find((t) => t.target.kind === "private-env");
        const usePrivate = "Install into a Private Environment";
        const items = picked.target.kind === "interpreter" && privateEnv !== undefined ? [usePrivate, SHOW_OUTPUT] : [SHOW_OUTPUT, RESTART];
        const choice = await vscode.window.showErrorMessage(`Installing dspy-lsp failed: ${outcome.message}`, ...items);
        if (choice === usePrivate && privateEnv !== undefined) {
            const retried = await runInstall(privateEnv.target, bundle.wheel, false);
            if (retried.ok) {
                await server.restart("dspy-lsp was installed");
            } else {
                await offer(`Installing dspy-lsp failed: ${retried.message}`, "error", SHOW_OUTPUT, RESTART);
            }
        } else if (choice === SHOW_OUTPUT) {
            showOutput();
        } else if (choice === RESTART) {
            await server.restart("requested by the user");
        }
    }

    function runInstall(target: InstallTarget, wheel: string, reinstall: boolean): Thenable<InstallOutcome> {
        const title = target.kind === "interpreter" ? `Installing dspy-lsp into ${target.python}…` : "Installing dspy-lsp into its private environment…";
        return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title }, () =>
            server.installBundled(target, wheel, reinstall),
        );
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
     * (outside the workspace), through the Python that runs the server. The folder, its LM
     * settings and the server's resolved settings and paths are passed as options (see `cliContext`).
     */
    async function runInTerminal(name: string, subcommand: CliSubcommand): Promise<void> {
        const python = server.serverPython;
        if (python === undefined) {
            void offer("dspy-lsp has not started a server yet, so there is no Python to run the command with.", "error", RESTART, SHOW_OUTPUT);
            return;
        }
        const folder = subcommand === "optimize" ? await activeFolder() : serverFolder();
        if (subcommand === "optimize" && folder === undefined && (vscode.workspace.workspaceFolders?.length ?? 0) > 0) {
            return; // the folder pick was dismissed
        }
        const debugInfo: unknown = await server.executeServerCommand("dspy-lsp.debugInfo").catch(() => undefined);
        const context = cliContext({
            workspace: folder?.uri.scheme === "file" ? folder.uri.fsPath : undefined,
            editor: readExplicitSettings(folder?.uri),
            debugInfo,
        });
        if (subcommand === "optimize" && context.lm === undefined) {
            const settings = "Open Settings";
            const choice = await vscode.window.showErrorMessage(
                "dspy-lsp: Optimize Programs needs an LM: set dspy-lsp.lm.model (and lm.apiBase / lm.apiKeyEnv for its endpoint).",
                settings,
            );
            if (choice === settings) {
                await vscode.commands.executeCommand("workbench.action.openSettings", `${SECTION}.lm.`);
            }
            return;
        }
        const args = cliArgs(subcommand, context);
        const cwd = server.workingDirectory();
        const shown = args.map((a, i) => (args[i - 1] === "--settings-json" ? "'<the server's settings>'" : a));
        output.appendLine(`[client] Terminal (in ${cwd}): ${python} ${shown.join(" ")}`);
        const terminal = vscode.window.createTerminal({ name, shellPath: python, shellArgs: args, cwd: vscode.Uri.file(cwd) });
        terminal.show();
    }

    /** Starts `dspy-lsp dashboard` (once per window) with the server's Python and opens its page. */
    async function showDashboard(): Promise<void> {
        const python = server.serverPython;
        if (python === undefined) {
            void offer("dspy-lsp has not started a server yet, so there is no Python to run the dashboard with.", "error", RESTART, SHOW_OUTPUT);
            return;
        }
        if (!dashboardProcess.started) {
            output.appendLine(`[client] Dashboard (in ${server.workingDirectory()}): ${python} -P -m dspy_lsp dashboard --port 0`);
        }
        try {
            const url = await vscode.window.withProgress(
                { location: vscode.ProgressLocation.Window, title: "dspy-lsp: starting the dashboard" },
                () => dashboardProcess.url(python, server.workingDirectory()),
            );
            output.appendLine(`[client] Dashboard: ${url}`);
            await vscode.env.openExternal(vscode.Uri.parse(url));
        } catch (error) {
            const why = error instanceof DashboardError ? error.message : String(error);
            output.appendLine(`[client] Dashboard: ${why}`);
            await offer(`dspy-lsp: the dashboard did not start: ${why}`, "error", SHOW_OUTPUT);
        }
    }

    context.subscriptions.push(
        vscode.commands.registerCommand(COMMANDS.showDashboard, showDashboard),
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
                void statusItem.refresh();
            }
        }),
        vscode.commands.registerCommand(COMMANDS.analyzeWorkspace, async () => {
            // The server reports cancellable progress itself.
            const result = await runServerCommand("dspy-lsp.analyzeWorkspace");
            if (result !== undefined) {
                void vscode.window.showInformationMessage(summarizeWorkspaceAnalysis(result));
                void statusItem.refresh();
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
            const summary = status ? statusLines(status).join(" · ") : "unexpected answer";
            const restricted = !workspaceTrusted();
            const choice = await vscode.window.showInformationMessage(
                restricted ? `${RESTRICTED_TEXT}. ${summary}` : `dspy-lsp: ${summary}`,
                ...(restricted ? [MANAGE_TRUST, SHOW_OUTPUT] : [SHOW_OUTPUT]),
            );
            if (choice === SHOW_OUTPUT) {
                showOutput();
            } else if (choice === MANAGE_TRUST) {
                await manageTrust();
            }
            void statusItem.refresh();
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
                void server.restart("the interpreter, importStrategy, log level or trustProjectSettings setting changed");
                return;
            }
            if (event.affectsConfiguration(`${SECTION}.status.pollSeconds`)) {
                statusItem.reschedule();
            }
            void server.pushSettings().catch((error: unknown) => output.appendLine(`[client] Sending settings failed: ${String(error)}`));
        }),
        vscode.workspace.onDidGrantWorkspaceTrust(() => void server.restart("the workspace is now trusted")),
    );

    // Neither waits for the other: activation returns at once, the server starts in the background.
    void onActiveEnvironmentChanged(() => {
        // Restricted Mode does not use the Python extension's environment (see resolveInterpreter).
        if (workspaceTrusted() && !readClientSettings(serverFolder()?.uri).interpreter?.trim()) {
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
    dashboard?.dispose();
    dashboard = undefined;
    await manager?.stop();
    manager = undefined;
}
