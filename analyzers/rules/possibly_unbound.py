"""DL120: a local read where some path to it never assigned it (``UnboundLocalError``).

Nearest ruff rule: none (stable or preview). F821/F823 flag names never bound, not names bound
on some paths only. pylint: ``possibly-used-before-assignment`` (E0606),
``used-before-assignment`` (E0601) for the ``try``/``except``/``finally`` cases.
"""

from __future__ import annotations

import libcst as cst

from ..binding_flow import unbound_uses
from ..callee import callee
from ..cst_scope import ScopedRule
from ..models import Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid
from ..unbound_candidates import may_be_unbound


class PossiblyUnbound(ScopedRule):
    CODE = "DL120"
    NAME = "possibly-unbound"
    CATEGORY = "bug"
    MESSAGE = "Local name may be unbound here"
    RATIONALE = (
        "The name is assigned on some paths to this line but not on all of them (an `if` "
        "without `else`, a `try` whose assignment may not have run, a loop that may `break` "
        "first), so this line can raise UnboundLocalError. Assign it on every path, or give it "
        "a default before the branch. pylint reports this as possibly-used-before-assignment; "
        "ruff has no equivalent."
    )
    SEVERITY = Severity.WARNING
    CONFIDENCE = 0.8
    VALID = (
        # a match is taken to cover its subject (an enum or a Literal, usually)
        "def f(m):\n    match m:\n        case 1:\n            x = 'a'\n    return x\n",
        # bound in every branch, or the other branches leave
        "def f(c):\n    if c:\n        x = 1\n    else:\n        x = 2\n    return x\n",
        "def f(c):\n    if c:\n        x = 1\n    elif d:\n        x = 2\n    else:\n"
        "        raise ValueError(c)\n    return x\n",
        "def f(c):\n    try:\n        x = g()\n    except KeyError:\n        return None\n"
        "    return x\n",
        "def f(c):\n    try:\n        import ujson as json\n    except ImportError:\n"
        "        json = None\n    return json\n",
        "import sys\ndef f(c):\n    if c:\n        x = 1\n    else:\n        sys.exit(2)\n"
        "    return x\n",
        # the same test guards the binding and the use
        "def f(debug):\n    if debug:\n        t = now()\n    work()\n    if debug:\n"
        "        log(t)\n",
        "def f(debug):\n    if debug:\n        t = now()\n    return debug and t\n",
        # an earlier iteration binds it
        "def f(xs):\n    for i, x in enumerate(xs):\n        if i:\n            use(prev)\n"
        "        prev = x\n",
        # a loop's body counts as having run; a retry loop leaves by `break`
        "def f(xs):\n    for x in xs:\n        last = x\n    return last\n",
        "def f():\n    while True:\n        try:\n            conn = connect()\n"
        "        except OSError:\n            continue\n        break\n    return conn\n",
        "def f(xs):\n    for x in xs:\n        if x:\n            found = x\n            break\n"
        "    else:\n        raise LookupError\n    return found\n",
        # a name the function never binds is the module's (ruff's F821 otherwise)
        "def f(c):\n    if c:\n        y = 1\n    return x\n",
        # nested functions read their free names when called
        "def f(c):\n    def g():\n        return x\n    if c:\n        x = 1\n    return g\n",
        "def f(c):\n    if c:\n        x = 1\n    return lambda: x\n",
        "def f(m):\n    match m:\n        case 1:\n            x = 'a'\n        case _:\n"
        "            x = 'b'\n    return x\n",
        "def f(c):\n    if (m := g(c)) and m.group(1):\n        return m\n",
        # a flag bound beside it guards the use (more-itertools' distinct_permutations)
        "def f(items):\n    try:\n        items.sort()\n        sortable = True\n"
        "    except TypeError:\n        sortable = False\n        indices = index(items)\n"
        "    if sortable:\n        return items\n    return indices\n",
        # a literal first line cannot fail (more-itertools' _sample_counted)
        "def f(k):\n    with suppress(StopIteration):\n        reservoir = []\n"
        "        fill(reservoir, k)\n    return reservoir\n",
        "def f():\n    try:\n        try:\n            x = None\n        except:\n"
        "            x = None\n            raise\n    finally:\n        print(x)\n",
        "def f():\n    try:\n        res = 1 / 0\n    except ZeroDivisionError:\n"
        "        res = 0\n    finally:\n        print(res)\n",
        # calls that never return end the branch
        "def fail(msg) -> NoReturn:\n    raise SystemExit(msg)\n\n"
        "def f(c):\n    if c:\n        cmd = 'ls'\n    else:\n        fail('linux only')\n"
        "    return cmd\n",
        "class C:\n    def _bad(self, why):\n        raise ValueError(why)\n\n"
        "    def m(self, c):\n        if c:\n            x = 1\n        else:\n"
        "            self._bad(c)\n        return x\n",
        # patterns from real code (coverage, fsspec, typing_extensions, jinja2, urllib3,
        # SQLAlchemy, pytest, hypothesis, pip, more-itertools): each once flagged, each fine
        "def read(path):\n    try:\n        status = load(path)\n    except OSError:\n"
        "        usable = False\n    else:\n        usable = status['ok']\n    if usable:\n"
        "        return status['files']\n",
        "def f(mode):\n    if 'r' in mode or 'a' in mode:\n        fn = find()\n"
        "    if 'r' in mode and '+' not in mode:\n        return open(fn)\n",
        "def f(fields):\n    if fields is MARKER:\n        msg = 'a'\n    elif fields is None:\n"
        "        msg = 'b'\n    if fields is MARKER or fields is None:\n        warn(msg)\n",
        "def f(zip):\n    if zip is not None:\n        out = open_zip(zip)\n    write()\n"
        "    if zip:\n        out.close()\n",
        "def f(events):\n    status = None\n    for e in events:\n        if e.kind == 'head':\n"
        "            headers = {}\n            status = e.status\n    assert status is not None\n"
        "    return status, headers\n",
        "def f(c, key):\n    if c:\n        key, wrap = c.key, c.wrap\n    if key is None:\n"
        "        key, wrap = default()\n    return wrap\n",
        "def pairs(it):\n    b = next(it)\n    try:\n        for i in count():\n"
        "            a = b\n            b = next(it)\n            yield i, a\n"
        "    except StopIteration:\n        yield i, a\n",
        "def capped(self):\n    try:\n        was = self.capped\n        yield\n    finally:\n"
        "        self.capped = was\n",
        "def f(parser, value):\n    try:\n        algo, digest = value.split(':')\n"
        "    except ValueError:\n        parser.error('bad hash')\n    return algo, digest\n",
        "def f(p):\n    try:\n        r = get(p)\n    except OSError as e:\n"
        "        six.raise_from(e, None)\n    return r\n",
        "def f(p):\n    def timeout():\n        raise TimeoutError(p)\n    try:\n"
        "        ret = wait(p)\n    except Timeout:\n        timeout()\n    return ret\n",
        "def f(cursor):\n    try:\n        rows = fetch(cursor)\n    except Exception:\n"
        "        with safe_reraise():\n            cursor.close()\n    return rows\n",
        "def f(attempts):\n    for _ in attempts:\n        try:\n            return build()\n"
        "        except Unsatisfied as err:\n            failed = err\n            continue\n"
        "    raise failed\n",
        "def f(registry):\n    enable = False\n    try:\n        if registry:\n"
        "            import gc\n            if gc.isenabled():\n                enable = True\n"
        "                gc.disable()\n        run()\n    finally:\n        if enable:\n"
        "            gc.enable()\n",
        "def _exit():\n    sys.stderr.write('error')\n    sys.exit(1)\n\n"
        "def f(path):\n    try:\n        t = load(path)\n    except Exception:\n"
        "        _exit()\n    return t.render()\n",
        # ...and SQLAlchemy, pathspec, distlib, dspy, setuptools, anyio
        "def f(database, service):\n    if database or service:\n        if database:\n"
        "            kw = {'sid': database}\n        if service:\n"
        "            kw = {'service': service}\n        return dsn(**kw)\n",
        "def f(failed, matches):\n    if failed:\n        rev = invert(matches)\n"
        "    for i in failed:\n        show(rev[i])\n",
        "def f(version):\n    if version > (3, 2):\n        start = glob()\n"
        "    if version <= (3, 2):\n        return old()\n    else:\n        return start\n",
        "def f(self, n):\n    try:\n        data = self.sock.recv(n)\n"
        "    except OSError as exc:\n        self._convert_socket_error(exc)\n    return data\n",
        "def f(override, segs):\n    if override is not None:\n        regex = override\n"
        "    elif segs is not None:\n        regex = join(segs)\n    else:\n"
        "        assert_unreachable('both None')\n    return regex\n",
        "def f(target):\n    if not typing.TYPE_CHECKING:\n        Engine = load_engine()\n"
        "    return issubclass(target, Engine)\n",
        "def f(w, catalog, volume):\n    try:\n        path = f'{catalog}.{volume}'\n"
        "        w.read(path)\n    except Exception:\n        raise ValueError(path)\n",
        "def f(self):\n    workers = self.parallel\n    try:\n"
        "        from concurrent.futures import ThreadPoolExecutor\n    except ImportError:\n"
        "        workers = None\n    if workers is None:\n        return self.serial()\n"
        "    with ThreadPoolExecutor(workers) as pool:\n        pool.run()\n",
        # ...and the standard library (ipaddress, curses, dataclasses, doctest, tokenize,
        # multiprocessing, contextlib)
        "class Net:\n    @classmethod\n    def _bad(cls, text):\n        raise ValueError(text)\n"
        "\n    @classmethod\n    def parse(cls, text):\n        try:\n            n = int(text)\n"
        "        except ValueError:\n            cls._bad(text)\n        return n\n",
        "def wrapper(func):\n    try:\n        scr = initscr()\n        return func(scr)\n"
        "    finally:\n        if 'scr' in locals():\n            scr.close()\n",
        "def f(field):\n    if field.default is MISSING:\n        value = field.name\n"
        "    elif field.default is not MISSING:\n        value = DEFAULT\n    return value\n",
        "def f(a, b):\n    if a is MISSING and b is MISSING:\n        d = ''\n"
        "    elif a is not MISSING:\n        d = '=a'\n    elif b is not MISSING:\n"
        "        d = '=b'\n    return d\n",
        "def f(flags):\n    if flags & UDIFF:\n        kind = 'u'\n    else:\n"
        "        assert 0, 'bad option'\n    return kind\n",
        "def f(args):\n    try:\n        if args.name:\n            name = args.name\n"
        "        else:\n            name = '<stdin>'\n        run(name)\n"
        "    except IndentationError as err:\n        error(err, name)\n",
        "def tasks(it):\n    try:\n        i = -1\n        for i, x in enumerate(it):\n"
        "            yield i, x\n    except Exception as e:\n        yield i + 1, e\n",
        "def f(details):\n    try:\n        fixed = details[1].__context__\n"
        "        raise details[1]\n    except BaseException:\n"
        "        details[1].__context__ = fixed\n        raise\n",
        # http.client: the path that leaves `status` unbound also empties `version`
        "def read_status(line):\n    try:\n        version, status = line.split(None, 1)\n"
        "    except ValueError:\n        version = ''\n    if not version.startswith('HTTP/'):\n"
        "        raise BadStatusLine(line)\n    return int(status)\n",
        "def f(c):\n    assert c, 'needed'\n    if c:\n        x = 1\n    else:\n"
        "        assert False\n    return x\n",
    )
    INVALID = (
        Invalid(code="def f(c):\n    if c:\n        x = 1\n    return x\n", line=4),
        Invalid(
            code="def f(c):\n    if c:\n        x = 1\n    elif d:\n        pass\n"
            "    else:\n        x = 3\n    print(x)\n",
            line=8,
        ),
        Invalid(
            code="def f(p):\n    try:\n        fh = open(p)\n        return fh.read()\n"
            "    finally:\n        fh.close()\n",
            line=6,
        ),
        Invalid(
            code="def f(p):\n    try:\n        value = int(p)\n    except ValueError:\n"
            "        log(p)\n    return value\n",
            line=6,
        ),
        Invalid(
            code="class C:\n    async def m(self, xs):\n        for x in xs:\n"
            "            if x.ok:\n                hit = x\n                break\n"
            "        return hit.name\n",
            line=7,
        ),
        Invalid(
            code="def f(p):\n    try:\n        fh = open(p)\n    except OSError:\n"
            "        log(p)\n    finally:\n        fh.close()\n",
            line=7,
        ),
        # tqdm: the AttributeError the handler turns into TypeError leaves `orig` unbound,
        # and `finally` then raises UnboundLocalError instead
        Invalid(
            code="def rev(self):\n    try:\n        orig = self.iterable\n"
            "    except AttributeError:\n        raise TypeError('not reversible')\n"
            "    else:\n        return reversed(orig)\n    finally:\n"
            "        self.iterable = orig\n",
            line=9,
        ),
        # huggingface_hub: the lookup that fails is the one that binds `operation`
        Invalid(
            code="def upload(action):\n    try:\n        operation = ops[action['oid']]\n"
            "        send(operation)\n    except Exception as exc:\n"
            "        raise RuntimeError(operation.path) from exc\n",
            line=6,
        ),
        # tqdm's Discord and Telegram helpers: a failed post leaves `req` unbound
        Invalid(
            code="def message_id(self):\n    try:\n        req = self.session.post(self.url)\n"
            "        req.raise_for_status()\n    except Exception as e:\n"
            "        if req.status_code == 429:\n            warn(e)\n",
            line=6,
        ),
        # distlib's byte_compile: an up-to-date file leaves `diagpath` unbound
        Invalid(
            code="def byte_compile(self, path, force, prefix):\n    if not self.dry_run:\n"
            "        if force or self.newer(path):\n            if not prefix:\n"
            "                diagpath = None\n            else:\n"
            "                diagpath = path[len(prefix):]\n"
            "        compile(path, diagpath)\n",
            line=8,
        ),
        Invalid(
            code="def f(c):\n    with suppress(KeyError):\n        v = c['k']\n    return v\n",
            line=4,
        ),
    )

    @classmethod
    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        return bool(may_be_unbound(nodes))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        for name in unbound_uses(node, self._stops):
            self.report(
                name,
                f"`{name.value}` may be unbound here: some path reaches this line without "
                "assigning it",
            )

    def _stops(self, call: cst.Call) -> bool:
        """A call to a module function or a method of this class that only raises."""
        target = callee(self, call.func, opaque_ok=True)
        return (
            target is not None and target.signature is not None and target.signature.never_returns
        )
