"""The README's picture: real Neovim in real tmux, editing ``examples/inventory/store.py`` with
the real server, captured from tmux's screen and drawn to a PNG.

    pip install pillow && python docs/screenshots/neovim_in_tmux.py

Needs ``nvim`` and ``tmux`` on PATH and the DejaVu Sans Mono font (Debian's fonts-dejavu-core).
Nothing is staged: the diagnostics and the floating window are what the server published.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "images" / "neovim-tmux.png"
EXAMPLE = ROOT / "examples" / "inventory" / "store.py"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
COLUMNS, ROWS = 112, 30
SESSION = "dspy-lsp-shot"

INIT = """
vim.o.termguicolors = false
vim.o.number = true
vim.o.signcolumn = "yes"
vim.o.laststatus = 2
vim.cmd("syntax on")
local lsp = dofile({init!r})
lsp.setup({{ cmd = {{ {python!r}, "-m", "dspy_lsp.server" }} }})
"""

# xterm's 16 colours, then the 6x6x6 cube and the grey ramp of the 256-colour palette.
BASE16 = [
    (0x1E, 0x1E, 0x1E), (0xCD, 0x31, 0x31), (0x0D, 0xBC, 0x79), (0xE5, 0xE5, 0x10),
    (0x24, 0x72, 0xC8), (0xBC, 0x3F, 0xBC), (0x11, 0xA8, 0xCD), (0xE5, 0xE5, 0xE5),
    (0x66, 0x66, 0x66), (0xF1, 0x4C, 0x4C), (0x23, 0xD1, 0x8B), (0xF5, 0xF5, 0x43),
    (0x3B, 0x8E, 0xEA), (0xD6, 0x70, 0xD6), (0x29, 0xB8, 0xDB), (0xFF, 0xFF, 0xFF),
]  # fmt: skip
CUBE = [0, 95, 135, 175, 215, 255]
DEFAULT_FG, DEFAULT_BG = (0xD4, 0xD4, 0xD4), (0x1E, 0x1E, 0x1E)
SGR = re.compile(r"\x1b\[([0-9;]*)m")

Rgb = tuple[int, int, int]


def palette(index: int) -> Rgb:
    if index < 16:
        return BASE16[index]
    if index < 232:
        index -= 16
        return (CUBE[index // 36], CUBE[index // 6 % 6], CUBE[index % 6])
    grey = 8 + (index - 232) * 10
    return (grey, grey, grey)


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def capture() -> str:
    """Run Neovim in a detached tmux session and return its screen with colours (``-e``)."""
    with tempfile.TemporaryDirectory() as tmp:
        init = Path(tmp) / "init.lua"
        init.write_text(
            INIT.format(init=str(ROOT / "editors/neovim/init.lua"), python=sys.executable)
        )
        _tmux("kill-server") if _has_session() else None
        _tmux(
            "new-session", "-d", "-s", SESSION, "-x", str(COLUMNS), "-y", str(ROWS),
            f"nvim -u {init} {EXAMPLE}",
        )  # fmt: skip
        try:
            time.sleep(6)  # the server starts and publishes
            for keys in (["9G"], ["0"], ["f", "{"]):  # onto DL101's `{}`
                _tmux("send-keys", "-t", SESSION, *keys)
            _tmux("send-keys", "-t", SESSION, ":lua vim.lsp.buf.code_action()", "Enter")
            time.sleep(1.5)
            return _tmux("capture-pane", "-p", "-e", "-t", SESSION)
        finally:
            _tmux("kill-session", "-t", SESSION)


def _has_session() -> bool:
    return (
        subprocess.run(["tmux", "has-session", "-t", SESSION], capture_output=True).returncode == 0
    )


def cells(screen: str) -> list[list[tuple[str, Rgb, Rgb, bool]]]:
    """Each row's characters with their foreground, background and boldness."""
    rows = []
    for line in screen.splitlines()[:ROWS]:
        fg, bg, bold, reverse = DEFAULT_FG, DEFAULT_BG, False, False
        row: list[tuple[str, Rgb, Rgb, bool]] = []
        at = 0
        for match in [*SGR.finditer(line), None]:
            end = match.start() if match else len(line)
            for char in line[at:end]:
                row.append((char, bg, fg, bold) if reverse else (char, fg, bg, bold))
            if match is None:
                break
            at = match.end()
            codes = [int(c) for c in match.group(1).split(";") if c] or [0]
            while codes:
                code = codes.pop(0)
                if code == 0:
                    fg, bg, bold, reverse = DEFAULT_FG, DEFAULT_BG, False, False
                elif code == 1:
                    bold = True
                elif code == 7:
                    reverse = True
                elif code == 22:
                    bold = False
                elif code == 27:
                    reverse = False
                elif code in (38, 48) and codes[:1] == [5]:
                    color = palette(codes[1])
                    fg, bg = (color, bg) if code == 38 else (fg, color)
                    codes = codes[2:]
                elif code in (38, 48) and codes[:1] == [2]:
                    color = (codes[1], codes[2], codes[3])
                    fg, bg = (color, bg) if code == 38 else (fg, color)
                    codes = codes[4:]
                elif code == 39:
                    fg = DEFAULT_FG
                elif code == 49:
                    bg = DEFAULT_BG
                elif 30 <= code <= 37 or 90 <= code <= 97:
                    fg = BASE16[code - 30 if code < 90 else code - 82]
                elif 40 <= code <= 47 or 100 <= code <= 107:
                    bg = BASE16[code - 40 if code < 100 else code - 92]
        rows.append(row)
    return rows


def draw(screen: str, out: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(FONT), 15)
    bold = ImageFont.truetype(str(FONT).replace(".ttf", "-Bold.ttf"), 15)
    width, height = int(font.getlength("M")), 19
    pad = 12
    image = Image.new("RGB", (COLUMNS * width + 2 * pad, ROWS * height + 2 * pad), DEFAULT_BG)
    pen = ImageDraw.Draw(image)
    for y, row in enumerate(cells(screen)):
        for x, (char, fg, bg, is_bold) in enumerate(row[:COLUMNS]):
            left, top = pad + x * width, pad + y * height
            if bg != DEFAULT_BG:
                pen.rectangle([left, top, left + width, top + height], fill=bg)
            if char.strip():
                pen.text((left, top + 1), char, fill=fg, font=bold if is_bold else font)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out, optimize=True)


def main() -> int:
    missing = [tool for tool in ("nvim", "tmux") if shutil.which(tool) is None]
    if missing or not FONT.exists():
        print(f"needs {', '.join(missing) or FONT}", file=sys.stderr)
        return 2
    draw(capture(), OUT)
    print(OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
