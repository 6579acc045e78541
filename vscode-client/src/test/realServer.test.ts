/**
 * The translated settings against the real server: every key the extension sends must be
 * accepted (the server rejects the whole editor layer on one unknown key), and the trust keys of
 * initializationOptions (`restrictedMode`, `trustProject`) do what the extension promises. Runs
 * when `$DSPY_LSP_PYTHON` (default python3) can import dspy_lsp.server, and is skipped otherwise.
 * The server runs as the extension runs it: `-P`, from a directory outside the workspace.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import {
    ConfigurationRequest,
    createProtocolConnection,
    DidChangeConfigurationNotification,
    DidOpenTextDocumentNotification,
    ExecuteCommandRequest,
    ExitNotification,
    InitializedNotification,
    InitializeRequest,
    type ProtocolConnection,
    ShutdownRequest,
    StreamMessageReader,
    StreamMessageWriter,
} from "vscode-languageserver-protocol/node";
import { cliArgs, cliContext } from "../cli";
import { classifyImportCheck, IMPORT_CHECK_ARGS, serverArgs } from "../interpreter";
import { runProcess, safeWorkingDirectory } from "../process";
import { buildInitializationOptions, SERVER_KEYS, type ServerSettings, type SessionTrust, toServerSettings, wrapSection } from "../settings";
import { formatCount, formatStatus, parseStatus } from "../status";

const python = process.env.DSPY_LSP_PYTHON ?? "python3";
const TRUSTED: SessionTrust = { workspaceTrusted: true, trustProjectSettings: false };

interface DebugInfo {
    settings: { ignore: string[]; select: string[]; debounce_ms: number; lm: Record<string, unknown>; tests: Record<string, unknown>; project: string | null; store: Record<string, unknown> };
    config_errors: string[];
    trust?: { project_trusted: boolean; ignored_project_keys: string[]; restricted_mode: boolean };
}

/** The server's environment: no DSPY_LSP_* variable, and per-user directories of the test's own. */
function serverEnv(home: string): Record<string, string | undefined> {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("DSPY_LSP_")));
    for (const kind of ["CONFIG", "DATA", "CACHE"]) {
        env[`XDG_${kind}_HOME`] = path.join(home, kind.toLowerCase());
    }
    return env;
}

/** Whether `python` can run the server; the reason to skip otherwise. */
async function skipReason(): Promise<string | undefined> {
    const check = classifyImportCheck(python, await runProcess(python, IMPORT_CHECK_ARGS, { cwd: os.tmpdir(), timeoutMs: 60_000 }));
    return check.kind === "ok" ? undefined : `${check.message} (set DSPY_LSP_PYTHON to a python with dspy-lsp installed)`;
}

describe("the real dspy-lsp server", () => {
    let skip: string | undefined;
    let child: ChildProcessWithoutNullStreams | undefined;
    let connection: ProtocolConnection | undefined;
    let pulled: ServerSettings = {};
    let stderr = "";
    const root = mkdtempSync(path.join(os.tmpdir(), "dspy-lsp-client-"));

    before(async () => {
        skip = await skipReason();
        if (skip !== undefined) {
            return;
        }
        const cwd = safeWorkingDirectory([os.tmpdir()], [root]);
        child = spawn(python, serverArgs("warning"), { cwd, env: serverEnv(root) });
        child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
        connection = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
        connection.onRequest(ConfigurationRequest.type, (params) => params.items.map(() => pulled));
        connection.listen();
        await connection.sendRequest(InitializeRequest.type, {
            processId: process.pid,
            rootUri: pathToFileURL(root).href,
            workspaceFolders: null,
            capabilities: { workspace: { configuration: true } },
            initializationOptions: buildInitializationOptions(toServerSettings({ ignore: ["DL115"], "lm.maxQueue": 7 }).settings, TRUSTED),
        });
        await connection.sendNotification(InitializedNotification.type, {});
    });

    after(async () => {
        if (connection !== undefined) {
            await connection.sendRequest(ShutdownRequest.type).catch(() => undefined);
            await connection.sendNotification(ExitNotification.type).catch(() => undefined);
            connection.dispose();
        }
        child?.kill();
        rmSync(root, { recursive: true, force: true });
    });

    async function command(name: string): Promise<unknown> {
        assert.ok(connection);
        return connection.sendRequest(ExecuteCommandRequest.type, { command: name, arguments: [] });
    }

    async function debugInfo(): Promise<DebugInfo> {
        return (await command("dspy-lsp.debugInfo")) as DebugInfo;
    }

    async function send(explicit: Record<string, unknown>): Promise<void> {
        assert.ok(connection);
        const translation = toServerSettings(explicit);
        assert.deepEqual(translation.problems, []);
        await connection.sendNotification(DidChangeConfigurationNotification.type, { settings: wrapSection(translation.settings) });
    }

    it("takes the settings from initializationOptions", async (t) => {
        if (skip) return t.skip(skip);
        const info = await debugInfo();
        assert.deepEqual(info.config_errors, [], stderr);
        assert.deepEqual(info.settings.ignore, ["DL115"]);
        assert.equal(info.settings.lm.max_queue, 7);
    });

    it("accepts every setting the extension can send, with no config error", async (t) => {
        if (skip) return t.skip(skip);
        const every = {
            select: ["DL1"], ignore: ["DL101"], overrides: [{ path: "tests/*", ignore: ["DL106"] }], exclude: ["build/*"],
            debounceMs: 0, maxFileChars: 100_000, project: "acme-app",
            "lm.model": "openai/test-model", "lm.apiBase": "http://127.0.0.1:9/v1", "lm.apiKeyEnv": "NO_SUCH_KEY",
            "lm.temperature": 0, "lm.maxTokens": 100, "lm.timeoutS": 5, "lm.maxConcurrency": 2,
            "lm.requestsPerMinute": 10, "lm.maxAttempts": 2, "lm.breakerFailures": 2, "lm.breakerResetS": 5,
            "lm.runOn": ["command"], "lm.planAttempts": 1, "lm.cachePath": path.join(root, "cache.sqlite3"),
            "lm.programsDir": path.join(root, "programs"), "lm.maxQueue": 3, "lm.minConfidence": 0.2,
            "lm.finder": "analyze",
            "store.url": `sqlite://${path.join(root, "team.sqlite3")}`, "store.user": "ana@example.com",
            "feedback.enabled": true, "feedback.path": path.join(root, "feedback.sqlite3"), "feedback.ignoreAfterSaves": 2,
            "learn.auto": false, "learn.window": 10, "learn.minNewLabels": 3, "learn.optimizer": "mipro", "learn.budget": 2,
            "learn.maxRequests": 50, "learn.maxTokens": 10_000,
            "tests.enabled": false, "tests.python": "/usr/bin/python3", "tests.command": "python3 -m pytest -q",
            "tests.coverage": false, "tests.timeoutS": 60, "tests.edits": 3, "actions.dismiss": "all",
        };
        assert.deepEqual(Object.keys(every).sort(), [...SERVER_KEYS].sort());
        await send(every);
        const info = await debugInfo();
        assert.deepEqual(info.config_errors, []);
        assert.deepEqual(info.settings.select, ["DL1"]);
        assert.equal(info.settings.debounce_ms, 0);
        assert.equal(info.settings.lm.api_key_env, "NO_SUCH_KEY");
        assert.deepEqual(info.settings.lm.run_on, ["command"]);
        assert.equal(info.settings.lm.min_confidence, 0.2);
        assert.equal(info.settings.lm.finder, "analyze");
        assert.equal(info.settings.tests.command, "python3 -m pytest -q");
        assert.equal(info.settings.tests.edits, 3);
        assert.equal(info.settings.project, "acme-app");
        assert.equal(info.settings.store.user, "ana@example.com");
        const status = parseStatus(await command("dspy-lsp.status"));
        assert.ok(status);
        assert.equal(formatStatus(status).text, "$(check) LM ready");
    });

    it("gives optimize a command line the real CLI parses into the editor's LM over the server's settings", async (t) => {
        if (skip) return t.skip(skip);
        // The server now holds every setting of the test above (lm.model openai/test-model, ...).
        const editor = { "lm.model": "openai/editor-model", "lm.apiBase": "http://127.0.0.1:8/v1", "learn.budget": 2 };
        const args = cliArgs("optimize", cliContext({ workspace: root, editor, debugInfo: await debugInfo() }));
        const script = [
            "import json, sys",
            "from dspy_lsp.server.cli.main import build_parser",
            "from dspy_lsp.server.cli.run_settings import run_settings",
            "argv = sys.argv[1:]",
            "setup = run_settings(build_parser(argv).parse_args(argv))",
            "lm = setup.settings.lm",
            "print(json.dumps({'model': lm.model, 'api_base': lm.api_base, 'api_key_env': lm.api_key_env,",
            "    'max_tokens': lm.max_tokens, 'budget': setup.settings.learn.budget, 'store': str(setup.store)}))",
        ].join("\n");
        const cwd = safeWorkingDirectory([os.tmpdir()], [root]);
        const parsed = spawnSync(python, ["-P", "-c", script, ...args.slice(3)], { cwd, env: serverEnv(root), encoding: "utf8" });
        assert.equal(parsed.status, 0, parsed.stderr);
        assert.deepEqual(JSON.parse(parsed.stdout), {
            model: "openai/editor-model",
            api_base: "http://127.0.0.1:8/v1",
            api_key_env: null, // the connection travels whole: not the server's NO_SUCH_KEY
            max_tokens: 100, // the server's (sent as lm.maxTokens), through --settings-json
            budget: 2,
            store: path.join(root, "feedback.sqlite3"),
        });
    });

    it("answers the configuration pull with the translated settings when a change carries none", async (t) => {
        if (skip) return t.skip(skip);
        pulled = toServerSettings({ ignore: ["DL2"] }).settings;
        await send({});
        let info = await debugInfo();
        for (let i = 0; i < 20 && info.settings.ignore[0] !== "DL2"; i++) {
            await new Promise((resolve) => setTimeout(resolve, 50));
            info = await debugInfo();
        }
        assert.deepEqual(info.settings.ignore, ["DL2"]);
        assert.equal(info.settings.lm.model, null);
        const status = parseStatus(await command("dspy-lsp.status"));
        assert.ok(status);
        assert.equal(formatStatus(status).text, "$(circle-slash) Rules only");
    });
});

/** One server started with `initializationOptions`, for the trust checks. */
async function startServer(
    root: string,
    initializationOptions: Record<string, unknown>,
    extraEnv: Record<string, string> = {},
): Promise<{
    command: (name: string, args?: unknown[]) => Promise<unknown>;
    open: (uri: string, text: string) => Promise<void>;
    stderr: () => string;
    close: () => Promise<void>;
}> {
    const env = { ...serverEnv(root), ...extraEnv };
    const child = spawn(python, serverArgs("warning"), { cwd: safeWorkingDirectory([os.tmpdir()], [root]), env });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const connection = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    connection.onRequest(ConfigurationRequest.type, (params) => params.items.map(() => ({})));
    connection.listen();
    await connection.sendRequest(InitializeRequest.type, {
        processId: process.pid,
        rootUri: pathToFileURL(root).href,
        workspaceFolders: [{ uri: pathToFileURL(root).href, name: "ws" }],
        capabilities: { workspace: { configuration: true } },
        initializationOptions,
    });
    await connection.sendNotification(InitializedNotification.type, {});
    return {
        command: (name, args = []) => connection.sendRequest(ExecuteCommandRequest.type, { command: name, arguments: args }),
        open: (uri, text) =>
            connection.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: "python", version: 1, text } }),
        stderr: () => stderr,
        close: async () => {
            await connection.sendRequest(ShutdownRequest.type).catch(() => undefined);
            await connection.sendNotification(ExitNotification.type).catch(() => undefined);
            connection.dispose();
            child.kill();
        },
    };
}

describe("the real dspy-lsp server and workspace trust", () => {
    let skip: string | undefined;
    const root = mkdtempSync(path.join(os.tmpdir(), "dspy-lsp-trust-"));
    // A project whose pyproject.toml chooses the LM: only a trusted project may.
    const project = path.join(root, "project");
    mkdirSync(project);
    writeFileSync(path.join(project, "pyproject.toml"), '[tool.dspy-lsp]\nignore = ["DL115"]\n[tool.dspy-lsp.lm]\nmodel = "openai/project-model"\n');

    before(async () => {
        skip = await skipReason();
    });

    after(() => rmSync(root, { recursive: true, force: true }));

    it("turns the LM tier off in Restricted Mode, whatever the settings say", async (t) => {
        if (skip) return t.skip(skip);
        const settings = toServerSettings({ "lm.model": "openai/test-model", "lm.apiBase": "http://127.0.0.1:9/v1", ignore: ["DL101"] }).settings;
        const options = buildInitializationOptions(settings, { workspaceTrusted: false, trustProjectSettings: true });
        assert.deepEqual(Object.keys(options).sort(), ["dspy-lsp", "restrictedMode"]);
        const server = await startServer(project, options);
        try {
            const info = (await server.command("dspy-lsp.debugInfo")) as DebugInfo;
            assert.deepEqual(info.config_errors, [], server.stderr());
            assert.equal(info.trust?.restricted_mode, true);
            assert.equal(info.settings.lm.model, null);
            assert.deepEqual(info.settings.ignore, ["DL101"]); // the rest of the settings still apply
            const status = parseStatus(await server.command("dspy-lsp.status"));
            assert.ok(status);
            assert.equal(status.state, "none");
            assert.equal(formatStatus(status, { restricted: true }).text, "$(shield) Rules only (Restricted Mode)");
            assert.equal(status.offReason, "the editor window is in Restricted Mode (an untrusted workspace)");
        } finally {
            await server.close();
        }
    });

    it("lets the project's pyproject choose the LM only with trustProject", async (t) => {
        if (skip) return t.skip(skip);
        const untrusted = await startServer(project, buildInitializationOptions({}, TRUSTED));
        try {
            const info = (await untrusted.command("dspy-lsp.debugInfo")) as DebugInfo;
            assert.equal(info.trust?.project_trusted, false, untrusted.stderr());
            assert.equal(info.settings.lm.model, null);
            assert.deepEqual(info.settings.ignore, ["DL115"]); // rule selection is the project's to choose
        } finally {
            await untrusted.close();
        }
        const options = buildInitializationOptions({}, { workspaceTrusted: true, trustProjectSettings: true });
        assert.deepEqual(options, { "dspy-lsp": {}, trustProject: true });
        const trusted = await startServer(project, options);
        try {
            const info = (await trusted.command("dspy-lsp.debugInfo")) as DebugInfo;
            assert.equal(info.trust?.project_trusted, true, trusted.stderr());
            assert.equal(info.trust?.restricted_mode, false);
            assert.equal(info.settings.lm.model, "openai/project-model");
        } finally {
            await trusted.close();
        }
    });
});

/**
 * The repository's fake OpenAI endpoint (tests/fakes) answering as a model would, in a python
 * child; `undefined` outside a checkout.
 */
async function startFakeModel(): Promise<{ baseUrl: string; close: () => void } | undefined> {
    const tests = path.resolve(__dirname, "..", "..", "..", "tests");
    if (!existsSync(path.join(tests, "fakes", "openai_server.py"))) {
        return undefined;
    }
    const script = [
        "import sys",
        `sys.path.insert(0, ${JSON.stringify(tests)})`,
        "from fakes.openai_server import FakeOpenAI",
        "from fakes.reviewer import Reviewer",
        "fake = FakeOpenAI(responder=Reviewer()).start()",
        "print(fake.base_url, flush=True)",
        "sys.stdin.read()",
    ].join("\n");
    const child = spawn(python, ["-c", script], { cwd: os.tmpdir(), stdio: ["pipe", "pipe", "inherit"] });
    const baseUrl = await new Promise<string>((resolve, reject) => {
        child.stdout.setEncoding("utf8").once("data", (line: string) => resolve(line.trim()));
        child.once("exit", (code) => reject(new Error(`the fake model exited (${String(code)})`)));
    });
    return { baseUrl, close: () => child.kill() };
}

describe("the language status of a real LM that answered", () => {
    let skip: string | undefined;
    const root = mkdtempSync(path.join(os.tmpdir(), "dspy-lsp-lm-status-"));

    before(async () => {
        skip = await skipReason();
    });

    after(() => rmSync(root, { recursive: true, force: true }));

    it("shows the tokens the server counted, its model and the active program versions", async (t) => {
        if (skip) return t.skip(skip);
        const fake = await startFakeModel();
        if (fake === undefined) return t.skip("tests/fakes is not here (not a checkout)");
        const settings = toServerSettings({
            "lm.model": "openai/fake-model",
            "lm.apiBase": fake.baseUrl,
            "lm.apiKeyEnv": "DSPY_LSP_FAKE_KEY",
            "lm.maxAttempts": 1,
            "lm.runOn": ["command"],
            "lm.cachePath": path.join(root, "lm.sqlite3"),
            "lm.programsDir": path.join(root, "programs"),
        });
        assert.deepEqual(settings.problems, []);
        const server = await startServer(root, buildInitializationOptions(settings.settings, TRUSTED), { DSPY_LSP_FAKE_KEY: "test" });
        try {
            const uri = pathToFileURL(path.join(root, "parse.py")).href;
            await server.open(uri, "import ast\n\n\ndef parse(text):\n    return eval(text)\n");
            const analysed = (await server.command("dspy-lsp.analyzeFile", [uri])) as { lm: string; lm_findings: number };
            assert.equal(analysed.lm, "ready", server.stderr());
            const raw = await server.command("dspy-lsp.status");
            const status = parseStatus(raw);
            assert.ok(status, JSON.stringify(raw));
            assert.ok(status.stats.promptTokens > 0, JSON.stringify(raw));
            const view = formatStatus(status);
            const tokens = status.stats.promptTokens + status.stats.completionTokens;
            assert.equal(view.text, `$(check) LM ready · ${formatCount(tokens)} tok`);
            assert.match(view.detail, /^openai\/fake-model · .*\banalyze@[0-9a-f]{12}\b/);
            assert.equal(view.severity, "information");
        } finally {
            await server.close();
            fake.close();
        }
    });
});
