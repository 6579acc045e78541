// Builds the repository's wheel into bundled/ for the .vsix (there is no PyPI release):
// `python -m pip wheel --no-deps` with $DSPY_LSP_PYTHON, else python3 (python on Windows).
// It builds from a copy of the checkout's files (tracked and untracked, not ignored), since
// setuptools building in place reuses build/, where files deleted since would still be packed.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const client = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const repo = path.dirname(client);
const out = path.join(client, "bundled");
const python = process.env.DSPY_LSP_PYTHON || (process.platform === "win32" ? "python" : "python3");

function run(command, args, cwd) {
    const result = spawnSync(command, args, { cwd, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
    if (result.error || result.status !== 0) {
        process.stderr.write(result.stdout ?? "");
        throw new Error(`${command} ${args.join(" ")} failed: ${result.error?.message ?? `exit code ${result.status}`}`);
    }
    return result.stdout;
}

/** The checkout's files outside vscode-client/, as git sees them; `undefined` without git. */
function sourceFiles() {
    try {
        const listed = run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], repo);
        return listed
            .split("\0")
            .filter((f) => f !== "" && !f.startsWith("vscode-client/"))
            .filter((f) => existsSync(path.join(repo, f)) && statSync(path.join(repo, f)).isFile());
    } catch (error) {
        process.stderr.write(`build-wheel: ${error.message}; building in place\n`);
        return undefined;
    }
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const files = sourceFiles();
let source = repo;
let scratch;
if (files !== undefined) {
    scratch = mkdtempSync(path.join(os.tmpdir(), "dspy-lsp-wheel-"));
    source = path.join(scratch, "src");
    for (const file of files) {
        mkdirSync(path.dirname(path.join(source, file)), { recursive: true });
        copyFileSync(path.join(repo, file), path.join(source, file));
    }
}
try {
    run(python, ["-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "--quiet", "--wheel-dir", out, source], client);
} finally {
    if (scratch !== undefined) {
        rmSync(scratch, { recursive: true, force: true });
    }
}
const wheels = readdirSync(out).filter((f) => /^dspy_lsp-.+\.whl$/.test(f));
if (wheels.length !== 1) {
    throw new Error(`expected one dspy_lsp wheel in ${out}, found ${JSON.stringify(readdirSync(out))}`);
}
process.stdout.write(`build-wheel: ${path.join("bundled", wheels[0])}\n`);
