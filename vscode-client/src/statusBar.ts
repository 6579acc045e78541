/** The status bar item: the client's state, and the LM state polled from `dspy-lsp.status` while the server runs. */
import * as vscode from "vscode";
import type { ManagerState, ServerManager } from "./server";
import { formatClientState, formatStatus, parseStatus, type StatusView } from "./status";

export const SHOW_STATUS_COMMAND = "dspy-lsp.client.showStatus";
export const RESTART_COMMAND = "dspy-lsp.client.restartServer";
/** VS Code's "Workspaces: Manage Workspace Trust". */
export const MANAGE_TRUST_COMMAND = "workbench.trust.manage";

export class StatusBar implements vscode.Disposable {
    private readonly item = vscode.window.createStatusBarItem("dspy-lsp.status", vscode.StatusBarAlignment.Right, 100);
    private timer: NodeJS.Timeout | undefined;
    private polling = false;
    private readonly subscription: vscode.Disposable;

    constructor(
        private readonly manager: ServerManager,
        private readonly pollSeconds: () => number,
        /** True in Restricted Mode: the status then says why the LM tier is off. */
        private readonly restricted: () => boolean = () => false,
    ) {
        this.item.name = "dspy-lsp";
        this.subscription = manager.onDidChangeState((state) => this.onState(state));
        this.onState(manager.state);
        this.item.show();
    }

    /** Re-reads the poll interval (after a settings change). */
    reschedule(): void {
        this.onState(this.manager.state);
    }

    /** Polls now, e.g. after a command that used the LM. */
    async refresh(): Promise<void> {
        if (this.manager.state.kind !== "running" || this.polling) {
            return;
        }
        this.polling = true;
        try {
            const raw = await this.manager.executeServerCommand("dspy-lsp.status");
            const status = parseStatus(raw);
            const restricted = this.restricted();
            this.show(
                status
                    ? formatStatus(status, { restricted })
                    : formatClientState({ kind: "unavailable", reason: "The server's status answer was not understood." }),
                restricted && status?.state === "none" ? MANAGE_TRUST_COMMAND : SHOW_STATUS_COMMAND,
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
        this.subscription.dispose();
        this.item.dispose();
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
                this.show(formatClientState({ kind: "starting" }), SHOW_STATUS_COMMAND);
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
        this.item.text = view.text;
        this.item.tooltip = view.tooltip;
        this.item.command = command;
        this.item.backgroundColor =
            view.severity === "error"
                ? new vscode.ThemeColor("statusBarItem.errorBackground")
                : view.severity === "warning"
                  ? new vscode.ThemeColor("statusBarItem.warningBackground")
                  : undefined;
    }
}
