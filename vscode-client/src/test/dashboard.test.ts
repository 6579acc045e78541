import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import * as os from "node:os";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { dashboardArgs, DashboardError, DashboardProcess, parseDashboardLine, type DashboardChild } from "../dashboard";

/** A dashboard process that prints what the test tells it to. */
class FakeChild extends EventEmitter {
    readonly stdout = new PassThrough();
    readonly stderr = new PassThrough();
    exitCode: number | null = null;
    signalCode: NodeJS.Signals | null = null;
    kills = 0;

    kill(): boolean {
        this.kills += 1;
        this.signalCode = "SIGTERM";
        this.emit("exit", null);
        return true;
    }

    exit(code: number): void {
        this.exitCode = code;
        this.emit("exit", code);
    }
}

function fakeSpawn(): { spawned: { python: string; args: readonly string[]; cwd: string; child: FakeChild }[]; spawn: (python: string, args: readonly string[], cwd: string) => DashboardChild } {
    const spawned: { python: string; args: readonly string[]; cwd: string; child: FakeChild }[] = [];
    return {
        spawned,
        spawn: (python, args, cwd) => {
            const child = new FakeChild();
            spawned.push({ python, args, cwd, child });
            return child;
        },
    };
}

const URL = "http://127.0.0.1:40123/";

describe("the dashboard command", () => {
    it("runs the CLI's dashboard verb on any free port, with -P", () => {
        assert.deepEqual(dashboardArgs(), ["-P", "-m", "dspy_lsp", "dashboard", "--port", "0"]);
    });

    it("reads the URL from the dashboard's first line only", () => {
        assert.equal(parseDashboardLine(`dspy-lsp dashboard: ${URL}`), URL);
        assert.equal(parseDashboardLine(`dspy-lsp dashboard: ${URL}\r`), URL);
        assert.equal(parseDashboardLine("dspy-lsp dashboard: http://0.0.0.0:8000/"), undefined);
        assert.equal(parseDashboardLine("dspy-lsp dashboard: http://127.0.0.1:80/x"), undefined);
        assert.equal(parseDashboardLine("INFO: Uvicorn running"), undefined);
    });

    it("starts the process with the server's python and answers with its URL", async () => {
        const fake = fakeSpawn();
        const dashboard = new DashboardProcess({ spawn: fake.spawn });
        const url = dashboard.url("/venv/bin/python", os.tmpdir());
        const { child } = fake.spawned[0]!;
        child.stdout.write("dspy-lsp dashboard: http://127.0.0.1:40");
        child.stdout.write("123/\nmore output\n");
        assert.equal(await url, URL);
        assert.deepEqual(
            fake.spawned.map((s) => [s.python, s.args, s.cwd]),
            [["/venv/bin/python", dashboardArgs(), os.tmpdir()]],
        );
    });

    it("reuses the running process", async () => {
        const fake = fakeSpawn();
        const dashboard = new DashboardProcess({ spawn: fake.spawn });
        const first = dashboard.url("python3", os.tmpdir());
        fake.spawned[0]!.child.stdout.write(`dspy-lsp dashboard: ${URL}\n`);
        assert.equal(await first, URL);
        assert.equal(await dashboard.url("python3", os.tmpdir()), URL);
        assert.equal(fake.spawned.length, 1);
    });

    it("starts a new process when the old one exited or the python changed", async () => {
        const fake = fakeSpawn();
        const dashboard = new DashboardProcess({ spawn: fake.spawn });
        const first = dashboard.url("python3", os.tmpdir());
        fake.spawned[0]!.child.stdout.write(`dspy-lsp dashboard: ${URL}\n`);
        await first;
        fake.spawned[0]!.child.exit(0);
        const second = dashboard.url("python3", os.tmpdir());
        fake.spawned[1]!.child.stdout.write("dspy-lsp dashboard: http://127.0.0.1:40124/\n");
        assert.equal(await second, "http://127.0.0.1:40124/");
        const third = dashboard.url("/other/python", os.tmpdir());
        assert.equal(fake.spawned[1]!.child.kills, 1);
        fake.spawned[2]!.child.stdout.write(`dspy-lsp dashboard: ${URL}\n`);
        assert.equal(await third, URL);
    });

    it("kills the process when disposed", async () => {
        const fake = fakeSpawn();
        const dashboard = new DashboardProcess({ spawn: fake.spawn });
        const url = dashboard.url("python3", os.tmpdir());
        fake.spawned[0]!.child.stdout.write(`dspy-lsp dashboard: ${URL}\n`);
        await url;
        assert.ok(dashboard.started);
        dashboard.dispose();
        assert.equal(fake.spawned[0]!.child.kills, 1);
        assert.ok(!dashboard.started);
    });

    it("fails with the process's last words when it exits before printing its URL", async () => {
        const fake = fakeSpawn();
        const logged: string[] = [];
        const dashboard = new DashboardProcess({ spawn: fake.spawn, onOutput: (chunk) => logged.push(chunk) });
        const url = dashboard.url("python3", os.tmpdir());
        const { child } = fake.spawned[0]!;
        child.stderr.write("dspy-lsp: error: argument command: invalid choice: 'dashboard'\n");
        await new Promise((resolve) => setImmediate(resolve));
        child.exit(2);
        await assert.rejects(url, (error: unknown) => {
            assert.ok(error instanceof DashboardError);
            assert.match(error.message, /exited \(code 2\) before printing its URL: .*invalid choice: 'dashboard'/);
            return true;
        });
        assert.match(logged.join(""), /invalid choice/);
        assert.ok(!dashboard.started);
    });

    it("fails and stops a process that prints something else first", async () => {
        const fake = fakeSpawn();
        const dashboard = new DashboardProcess({ spawn: fake.spawn });
        const url = dashboard.url("python3", os.tmpdir());
        fake.spawned[0]!.child.stdout.write("hello\n");
        await assert.rejects(url, /printed "hello" instead of its URL/);
        assert.equal(fake.spawned[0]!.child.kills, 1);
    });

    it("fails and stops a process that stays silent", async () => {
        const fake = fakeSpawn();
        const dashboard = new DashboardProcess({ spawn: fake.spawn, timeoutMs: 20 });
        await assert.rejects(dashboard.url("python3", os.tmpdir()), /printed no URL within/);
        assert.equal(fake.spawned[0]!.child.kills, 1);
    });
});
