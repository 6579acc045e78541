/**
 * The Python language status item: the server's state, and the LM state, tokens, cost and active
 * program versions from `dspy-lsp.status`, asked again when diagnostics arrive (the LM tier's
 * results come as diagnostics), after commands, and every `dspy-lsp.status.pollSeconds`.
 */
import * as vscode from "vscode";
import type { ManagerState, ServerManager } from "./server";
import { formatClientState, formatStatus, parseStatus, type StatusView } from "./status";

export const SHOW_STATUS_COMMAND = "dspy-lsp.client.showStatus";
export const RESTART_COMMAND = "dspy-lsp.client.restartServer";
/** VS Code's "Workspaces: Manage Workspace Trust". */
export const MANAGE_TRUST_COMMAND = "workbench.trust.manage";

/** Diagnostics come per keystroke: the status is asked once they settle. */
const SETTLE_MS = 1_500;

const SEVERITY: Record<StatusView["severity"], vscode.LanguageStatusSeverity> = {
    information: vscode.LanguageStatusSeverity.Information,
    warning: vscode.LanguageStatusSeverity.Warning,
    error: vscode.LanguageStatusSeverity.Error,
};

export class LanguageStatus implements vscode.Disposable {
    private readonly item = vscode.languages.createLanguageStatusItem("dspy-lsp.status", { language: "python" });
    private timer: NodeJS.Timeout | undefined;
    private settle: NodeJS.Timeout | undefined;
    private polling = false;
    private shown = "";
    private readonly subscriptions: vscode.Disposable[];

    constructor(
        private readonly manager: ServerManager,
        private readonly pollSeconds: () => number,
        /** True in Restricted Mode: the status then says why the LM tier is off. */
        private readonly restricted: () => boolean = () => false,
    ) {
        this.item.name = "dspy-lsp";
        this.subscriptions = [
            manager.onDidChangeState((state) => this.onState(state)),
            manager.onDidPublishDiagnostics(() => this.refreshSoon()),
        ];
        this.onState(manager.state);
    }

    /** Re-reads the poll interval (after a settings change). */
    reschedule(): void {
        this.onState(this.manager.state);
    }

    /** Asks the server now, e.g. after a command that used the LM. */
    async refresh(): Promise<void> {
        if (this.manager.state.kind !== "running" || this.polling) {
            return;
        }
        this.polling = true;
        try {
            const status = parseStatus(await this.manager.executeServerCommand("dspy-lsp.status"));
            this.show(
                status
                    ? formatStatus(status, { restricted: this.restricted() })
                    : formatClientState({ kind: "unavailable", reason: "the server's status answer was not understood" }),
                SHOW_STATUS_COMMAND,
            );
        } catch (error) {
            if (this.manager.state.kind === "running") {
                this.show(formatClientState({ kind: "unavailable", reason: String(error) }), SHOW_STATUS_COMMAND);
            }
        } finally {
            this.polling = false;
        }
    }

    dispose(): void {
        this.stopPolling();
        clearTimeout(this.settle);
        for (const subscription of this.subscriptions) {
            subscription.dispose();
        }
        this.item.dispose();
    }

    private refreshSoon(): void {
        clearTimeout(this.settle);
        this.settle = setTimeout(() => void this.refresh(), SETTLE_MS);
    }

    private onState(state: ManagerState): void {
        this.stopPolling();
        switch (state.kind) {
            case "running": {
                void this.refresh();
                const seconds = this.pollSeconds();
                if (seconds > 0) {
                    this.timer = setInterval(() => void this.refresh(), seconds * 1000);
                }
                return;
            }
            case "starting":
                this.show(formatClientState(state), "dspy-lsp.client.showOutput");
                return;
            case "restarting":
                this.show(formatClientState(state), "dspy-lsp.client.showOutput");
                return;
            case "stopped":
                this.show(formatClientState(state), RESTART_COMMAND);
                return;
        }
    }

    private stopPolling(): void {
        if (this.timer !== undefined) {
            clearInterval(this.timer);
            this.timer = undefined;
        }
    }

    private show(view: StatusView, command: string): void {
        const key = JSON.stringify([view, command]);
        if (key === this.shown) {
            return; // unchanged: no repaint
        }
        this.shown = key;
        this.item.text = view.text;
        this.item.detail = view.detail;
        this.item.severity = SEVERITY[view.severity];
        this.item.busy = view.busy;
        this.item.command = { title: COMMAND_TITLES[command] ?? "Show", command };
    }
}

const COMMAND_TITLES: Record<string, string> = {
    [SHOW_STATUS_COMMAND]: "Show Status",
    [RESTART_COMMAND]: "Restart",
    "dspy-lsp.client.showOutput": "Show Output",
};
