/**
 * The server's lifecycle: pick the interpreter and, by `dspy-lsp.importStrategy`, the Python
 * that runs the server (the interpreter's dspy-lsp or the bundled wheel's private environment),
 * start the language client, restart with backoff when the server dies, and push settings
 * changes without a restart.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { statSync } from "node:fs";
import * as os from "node:os";
import * as vscode from "vscode";
import {
    CloseAction,
    DidChangeConfigurationNotification,
    ErrorAction,
    ExecuteCommandRequest,
    LanguageClient,
    type LanguageClientOptions,
    type ServerOptions,
} from "vscode-languageclient/node";
import { type ImportStrategy, type InstallTarget, planServer } from "./bundled";
import { readClientSettings, readExplicitSettings, readSessionTrust, readUserPythonSetting, serverFolder } from "./config";
import { type Bundle, envReady, findBundle, installBundle, type InstallOutcome } from "./install";
import {
    classifyImportCheck,
    defaultPython,
    IMPORT_CHECK_ARGS,
    type ImportCheck,
    resolveInterpreter,
    type ResolvedInterpreter,
    serverArgs,
} from "./interpreter";
import { runProcess, safeWorkingDirectory } from "./process";
import { activeEnvironmentPython } from "./python";
import {
    DEFAULT_RESTART_POLICY,
    describeExit,
    type ExitInfo,
    RestartPolicy,
    TailBuffer,
} from "./restartPolicy";
import {
    answerConfiguration,
    buildInitializationOptions,
    SECTION,
    sameSettings,
    type ServerSettings,
    toServerSettings,
    wrapSection,
} from "./settings";

/** The server must answer `initialize` within this time (it takes about 1 s). */
const START_TIMEOUT_MS = 60_000;
const IMPORT_CHECK_TIMEOUT_MS = 60_000;

export type ManagerState =
    | { readonly kind: "starting"; readonly detail?: string }
    | { readonly kind: "running" }
    | { readonly kind: "restarting"; readonly inMs: number; readonly attempt: number; readonly of: number }
    | { readonly kind: "stopped"; readonly reason: string };

export class ServerNotRunningError extends Error {
    constructor() {
        super("The dspy-lsp server is not running.");
    }
}

/** What the user can do about a problem; the extension wires these to commands. */
export interface SetupActions {
    /** `interpreter` is the one whose import check failed (the private environment's, under useBundled). */
    showSetupProblem(check: ImportCheck, interpreter: ResolvedInterpreter): void;
    showCrash(message: string, willRestart: boolean): void;
}

export class ServerManager implements vscode.Disposable {
    private client: LanguageClient | undefined;
    private child: ChildProcess | undefined;
    private exited: Promise<ExitInfo> | undefined;
    private session = 0;
    private handledSession = -1;
    private initializedSession = -1;
    private restartTimer: NodeJS.Timeout | undefined;
    private policy = new RestartPolicy();
    private lastSent: ServerSettings = {};
    private lastProblems = "";
    private stderr = new TailBuffer();
    private queue: Promise<void> = Promise.resolve();
    private disposed = false;
    private readonly stateEmitter = new vscode.EventEmitter<ManagerState>();
    private readonly diagnosticsEmitter = new vscode.EventEmitter<void>();
    private current: ManagerState = { kind: "starting" };
    /** The interpreter resolved at the last start attempt (the base of the private environment). */
    interpreter: ResolvedInterpreter | undefined;
    /** The Python the server was last started with, for the CLI commands. */
    serverPython: string | undefined;

    readonly onDidChangeState = this.stateEmitter.event;
    /** The server published diagnostics (LM findings arrive this way). */
    readonly onDidPublishDiagnostics = this.diagnosticsEmitter.event;

    constructor(
        private readonly output: vscode.OutputChannel,
        private readonly actions: SetupActions,
        private readonly paths: {
            /** The extension's global storage directory (created by the caller), if it has one on disk. */
            readonly storageDir?: string;
            /** `<extension>/bundled`, where `npm run package` puts the wheel. */
            readonly bundledDir: string;
        },
    ) {}

    /** The bundled wheel and its private environment, or `undefined` in a build without a wheel. */
    bundle(): Bundle | undefined {
        return findBundle(this.paths.bundledDir, this.paths.storageDir);
    }

    /**
     * Installs the bundled wheel into `target` (its dependencies from the index), with the
     * output in the channel. Runs beside a running server; restart it afterwards.
     */
    installBundled(target: InstallTarget, wheel: string, reinstall = false): Promise<InstallOutcome> {
        this.log(target.kind === "interpreter" ? `Installing ${wheel} into ${target.python}.` : `Installing ${wheel} into ${target.env.dir}.`);
        return installBundle(target, wheel, {
            run: runProcess,
            cwd: this.workingDirectory(),
            onOutput: (chunk) => this.output.append(chunk),
            reinstall,
        });
    }

    /**
     * Where every Python process of the extension runs: the global storage directory, else the
     * temporary directory, never inside a workspace folder (see `safeWorkingDirectory`).
     */
    workingDirectory(): string {
        return safeWorkingDirectory([this.paths.storageDir, os.tmpdir()], workspaceFolderPaths(), {
            isDirectory: (candidate) => {
                try {
                    return statSync(candidate).isDirectory();
                } catch {
                    return false;
                }
            },
        });
    }

    get state(): ManagerState {
        return this.current;
    }

    /** Start the server (a no-op if it is running). */
    start(): Promise<void> {
        return this.enqueue(async () => {
            if (this.client === undefined) {
                this.resetPolicy();
                await this.doStart();
            }
        });
    }

    /** Stop, forget earlier crashes, start again. */
    restart(why: string): Promise<void> {
        this.interruptStart();
        return this.enqueue(async () => {
            this.log(`Restarting the server: ${why}.`);
            this.resetPolicy();
            await this.doStop();
            await this.doStart();
        });
    }

    stop(): Promise<void> {
        this.interruptStart();
        return this.enqueue(() => this.doStop());
    }

    /** A start in progress (possibly hung before `initialize`) must not hold up a stop or restart. */
    private interruptStart(): void {
        if (this.current.kind === "starting") {
            this.session++;
            this.child?.kill();
        }
    }

    /** Runs a command the server implements (`dspy-lsp.status`, ...). */
    async executeServerCommand(command: string, args: unknown[] = []): Promise<unknown> {
        const client = this.client;
        if (client === undefined || !client.isRunning()) {
            throw new ServerNotRunningError();
        }
        return client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args });
    }

    /** The URI string the server knows a document by. */
    protocolUri(uri: vscode.Uri): string {
        return this.client?.code2ProtocolConverter.asUri(uri) ?? uri.toString();
    }

    /** Sends changed settings with `workspace/didChangeConfiguration`; the server keeps running. */
    async pushSettings(): Promise<void> {
        const settings = this.currentSettings();
        const client = this.client;
        if (client === undefined || !client.isRunning() || sameSettings(settings, this.lastSent)) {
            return;
        }
        this.log(`Sending settings: ${JSON.stringify(settings)}`);
        this.lastSent = settings;
        await client.sendNotification(DidChangeConfigurationNotification.type, { settings: wrapSection(settings) });
    }

    dispose(): void {
        this.disposed = true;
        this.clearRestartTimer();
        this.diagnosticsEmitter.dispose();
        void this.stop().finally(() => this.stateEmitter.dispose());
    }

    private enqueue(task: () => Promise<void>): Promise<void> {
        const next = this.queue.then(task, task);
        this.queue = next.catch((error: unknown) => this.log(`Internal error: ${String(error)}`));
        return next;
    }

    private setState(state: ManagerState): void {
        this.current = state;
        this.stateEmitter.fire(state);
    }

    private resetPolicy(): void {
        const { maxRestarts } = readClientSettings(serverFolder()?.uri);
        this.policy = new RestartPolicy({ ...DEFAULT_RESTART_POLICY, maxRestarts });
    }

    /** The translated settings of `scope` (a folder or document URI), by default the server's folder. */
    private currentSettings(scope?: vscode.Uri): ServerSettings {
        const translation = toServerSettings(readExplicitSettings(scope ?? serverFolder()?.uri));
        const problems = translation.problems.join("\n");
        if (problems !== "" && problems !== this.lastProblems) {
            this.log(`Settings not sent to the server:\n${problems}`);
            void vscode.window.showWarningMessage(`dspy-lsp: some settings are invalid and were not sent: ${translation.problems[0]}`);
        }
        this.lastProblems = problems;
        return translation.settings;
    }

    private async doStart(): Promise<void> {
        try {
            await this.startSession();
        } catch (error) {
            const message = `dspy-lsp could not start the server: ${error instanceof Error ? error.message : String(error)}`;
            this.log(error instanceof Error && error.stack ? error.stack : message);
            this.session++;
            await this.discardClient(this.client, this.child);
            this.setState({ kind: "stopped", reason: message });
            this.actions.showCrash(message, false);
        }
    }

    private async startSession(): Promise<void> {
        if (this.disposed) {
            return;
        }
        this.clearRestartTimer();
        const session = ++this.session;
        this.setState({ kind: "starting" });
        // Read once per start: granting trust restarts the server (extension.ts).
        const trust = readSessionTrust();
        const restricted = !trust.workspaceTrusted;
        const folder = serverFolder();
        const clientSettings = readClientSettings(folder?.uri);
        const interpreter = await resolveInterpreter(
            {
                // In Restricted Mode readClientSettings() holds the user-level value only.
                setting: () => clientSettings.interpreter,
                pythonExtension: () => activeEnvironmentPython(folder?.uri),
                userPythonSetting: readUserPythonSetting,
            },
            {
                workspaceFolder: folder?.uri.scheme === "file" ? folder.uri.fsPath : undefined,
                workspaceFolders: workspaceFolderPaths(),
                home: os.homedir(),
                env: process.env,
            },
            defaultPython(process.platform),
            restricted,
        );
        this.interpreter = interpreter;
        for (const note of interpreter.notes) {
            this.log(`Interpreter: ${note}.`);
        }
        this.log(`Interpreter: ${interpreter.python} (from ${interpreter.source}).`);

        const cwd = this.workingDirectory();
        this.log(`Working directory of the Python processes: ${cwd}`);
        const python = await this.choosePython(session, interpreter, clientSettings.importStrategy, restricted, cwd);
        if (python === undefined || session !== this.session) {
            return;
        }
        this.serverPython = python;

        const settings = this.currentSettings();
        const initializationOptions = buildInitializationOptions(settings, trust);
        this.stderr = new TailBuffer();
        const args = serverArgs(clientSettings.logLevel);
        this.log(`Starting: ${python} ${args.join(" ")}`);
        if (restricted) {
            this.log("Restricted Mode: the server runs without the LM tier and learning (restrictedMode: true).");
        } else if (initializationOptions.trustProject === true) {
            this.log("dspy-lsp.trustProjectSettings is on: the project's [tool.dspy-lsp] may choose the LM and data paths (trustProject: true).");
        }
        const serverOptions: ServerOptions = () => this.spawnServer(python, args, cwd);
        const clientOptions: LanguageClientOptions = {
            documentSelector: [
                { scheme: "file", language: "python" },
                { scheme: "untitled", language: "python" },
            ],
            outputChannel: this.output,
            traceOutputChannel: this.output,
            initializationOptions,
            middleware: {
                workspace: {
                    // The server pulls `dspy-lsp` when a didChangeConfiguration carries no
                    // settings; answer with the translated settings of the item's scope (a
                    // folder or document), never the raw VS Code ones.
                    configuration: async (params, token, next) => {
                        const defaults: unknown = await next(params, token);
                        if (!Array.isArray(defaults)) {
                            return defaults as never;
                        }
                        return answerConfiguration(params.items, defaults, (scopeUri) =>
                            this.currentSettings(scopeUri === undefined ? undefined : vscode.Uri.parse(scopeUri)),
                        );
                    },
                },
                handleDiagnostics: (uri, diagnostics, next) => {
                    next(uri, diagnostics);
                    this.diagnosticsEmitter.fire();
                },
            },
            errorHandler: {
                error: () => ({ action: ErrorAction.Continue, handled: true }),
                closed: () => {
                    const phase = this.initializedSession === session ? "running" : "start";
                    void this.onServerGone(session, phase);
                    return { action: CloseAction.DoNotRestart, handled: true };
                },
            },
            initializationFailedHandler: () => false,
        };
        const client = new LanguageClient(SECTION, "dspy-lsp", serverOptions, clientOptions);
        this.client = client;
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<"timeout">((resolve) => {
            timer = setTimeout(() => resolve("timeout"), START_TIMEOUT_MS);
        });
        try {
            const result = await Promise.race([client.start().then(() => "started" as const), timeout]);
            if (result === "timeout") {
                await this.onServerGone(
                    session,
                    "start",
                    `The dspy-lsp server did not answer initialize within ${START_TIMEOUT_MS / 1000} s`,
                );
                return;
            }
        } catch (error) {
            this.log(`Start failed: ${String(error)}`);
            await this.onServerGone(session, "start");
            return;
        } finally {
            clearTimeout(timer);
        }
        if (session !== this.session || this.handledSession === session) {
            return;
        }
        if (!client.isRunning()) {
            // start() resolves without a running client when the connection closed mid-start.
            await this.onServerGone(session, "start");
            return;
        }
        this.initializedSession = session;
        this.lastSent = settings;
        this.policy.started(Date.now());
        this.setState({ kind: "running" });
        await this.pushSettings(); // anything changed while the server was starting
    }

    /**
     * The Python that runs the server (see `planServer`), installing the bundled wheel into the
     * private environment first when useBundled needs it; `undefined` after reporting a setup
     * problem.
     */
    private async choosePython(
        session: number,
        interpreter: ResolvedInterpreter,
        strategy: ImportStrategy,
        restricted: boolean,
        cwd: string,
    ): Promise<string | undefined> {
        const bundle = this.bundle();
        const env = bundle?.env;
        const importCheck = async (python: string): Promise<ImportCheck> =>
            classifyImportCheck(python, await runProcess(python, IMPORT_CHECK_ARGS, { cwd, timeoutMs: IMPORT_CHECK_TIMEOUT_MS }));
        const plan = await planServer(strategy, () => importCheck(interpreter.python), {
            wheel: bundle !== undefined,
            envReady: env !== undefined && envReady(env),
            envDir: env?.dir,
            restricted,
            workspaceFolders: workspaceFolderPaths(),
        });
        for (const note of plan.notes) {
            this.log(`${note}.`);
        }
        if (session !== this.session) {
            return undefined;
        }
        if (plan.kind === "setup-problem") {
            this.log(plan.check.message);
            this.setState({ kind: "stopped", reason: plan.check.message });
            this.actions.showSetupProblem(plan.check, interpreter);
            return undefined;
        }
        if (plan.kind === "environment" || bundle === undefined || env === undefined) {
            return interpreter.python;
        }
        const install = async (reinstall: boolean): Promise<boolean> => {
            this.setState({ kind: "starting", detail: `installing the bundled dspy-lsp into ${env.dir}` });
            const installed = await vscode.window.withProgress(
                { location: vscode.ProgressLocation.Notification, title: "dspy-lsp: installing the bundled server into its private environment…" },
                () => this.installBundled({ kind: "private-env", basePython: interpreter.python, env }, bundle.wheel, reinstall),
            );
            if (session !== this.session) {
                return false;
            }
            if (!installed.ok) {
                const message = `Installing the bundled dspy-lsp failed: ${installed.message}`;
                this.log(message);
                this.setState({ kind: "stopped", reason: message });
                this.actions.showCrash(message, false);
                return false;
            }
            this.setState({ kind: "starting" });
            return true;
        };
        if (plan.install && !(await install(false))) {
            return undefined;
        }
        let check = await importCheck(env.python);
        if (check.kind !== "ok" && !plan.install && session === this.session) {
            // Made earlier, broken since (its base Python removed, a package deleted): once more.
            this.log(`${check.message} Making the private environment again.`);
            if (!(await install(true))) {
                return undefined;
            }
            check = await importCheck(env.python);
        }
        if (session !== this.session) {
            return undefined;
        }
        if (check.kind !== "ok") {
            this.log(check.message);
            this.setState({ kind: "stopped", reason: check.message });
            this.actions.showSetupProblem(check, { python: env.python, source: "private-env", notes: [] });
            return undefined;
        }
        this.log(`Using the bundled dspy-lsp in ${env.dir}.`);
        return env.python;
    }

    private async spawnServer(python: string, args: string[], cwd: string): Promise<ChildProcess> {
        const child = spawn(python, args, { cwd, env: process.env, windowsHide: true });
        this.child = child;
        this.exited = new Promise<ExitInfo>((resolve) => {
            child.on("exit", (code, signal) => resolve({ code, signal }));
            child.on("error", () => resolve({ code: null, signal: null }));
        });
        child.stderr?.setEncoding("utf8").on("data", (chunk: string) => this.stderr.push(chunk));
        // Writing to a server that just died fails with EPIPE; the close handler reports the death.
        child.stdin?.on("error", (error) => this.log(`Server stdin: ${error.message}`));
        await new Promise<void>((resolve, reject) => {
            child.once("spawn", () => resolve());
            child.once("error", reject);
        });
        return child;
    }

    /** The server went away on its own (during start or later): restart with backoff or give up. */
    private async onServerGone(session: number, phase: "start" | "running", explanation?: string): Promise<void> {
        if (session !== this.session || this.handledSession === session || this.disposed) {
            return;
        }
        this.handledSession = session;
        const client = this.client;
        const child = this.child;
        const exit = await Promise.race([
            this.exited ?? Promise.resolve(undefined),
            delay(1_000).then(() => undefined),
        ]);
        const message = explanation ?? describeExit(phase, exit, this.stderr.lastLine());
        this.log(message);
        const tail = this.stderr.text();
        if (tail !== "") {
            this.log(`Last server output:\n${tail}`);
        }
        if (session !== this.session) {
            return; // stopped or restarted by the user meanwhile; that discarded this client
        }
        await this.discardClient(client, child);
        if (session !== this.session) {
            return;
        }
        const decision = this.policy.crashed(Date.now());
        if (decision.restart) {
            this.log(`Restarting in ${decision.delayMs} ms (attempt ${decision.attempt} of ${decision.of}).`);
            this.setState({ kind: "restarting", inMs: decision.delayMs, attempt: decision.attempt, of: decision.of });
            if (decision.attempt === 1) {
                this.actions.showCrash(`${message}. Restarting it.`, true);
            }
            this.restartTimer = setTimeout(() => {
                this.restartTimer = undefined;
                void this.enqueue(() => this.doStart());
            }, decision.delayMs);
        } else {
            const why =
                decision.attempts === 0
                    ? "Automatic restart is off (dspy-lsp.restart.maxAttempts)."
                    : `It was restarted ${decision.attempts} time${decision.attempts === 1 ? "" : "s"} in a row and will not be restarted again.`;
            this.setState({ kind: "stopped", reason: message });
            this.actions.showCrash(`${message}. ${why}`, false);
        }
    }

    private async doStop(): Promise<void> {
        this.session++;
        this.clearRestartTimer();
        await this.discardClient(this.client, this.child);
        this.setState({ kind: "stopped", reason: "stopped" });
    }

    private async discardClient(client: LanguageClient | undefined, child: ChildProcess | undefined): Promise<void> {
        if (this.client === client) {
            this.client = undefined;
        }
        if (client !== undefined) {
            try {
                if (client.isRunning()) {
                    await client.stop(2_000);
                }
            } catch (error) {
                this.log(`Stopping the client: ${String(error)}`);
            }
            try {
                await client.dispose();
            } catch {
                // A client that failed to start cannot be stopped; there is nothing left to release.
            }
        }
        if (child !== undefined && child.exitCode === null && child.signalCode === null) {
            child.kill();
        }
        if (this.child === child) {
            this.child = undefined;
        }
    }

    private clearRestartTimer(): void {
        if (this.restartTimer !== undefined) {
            clearTimeout(this.restartTimer);
            this.restartTimer = undefined;
        }
    }

    private log(message: string): void {
        this.output.appendLine(`[client ${new Date().toISOString()}] ${message}`);
    }
}

/** The workspace folders on disk. */
function workspaceFolderPaths(): string[] {
    return (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === "file").map((f) => f.uri.fsPath);
}

function delay(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}
