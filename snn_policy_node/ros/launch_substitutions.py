"""Substitutions of ROS 2 launch files: ``$(var a)``, ``$(env NAME 'default')``, ``$(find-pkg-share pkg)``,
``$(dirname)``, ``$(eval '1 + 1')``, nested (``$(var $(var which))``), as the launch frontend's grammar
(launch 3.7.1) reads them.

A text is fragments and substitutions; a substitution is ``$(`` a name, then arguments separated
by spaces, then ``)``. An argument is unquoted text and substitutions, or a single- or
double-quoted string (quotes removed; substitutions inside still expand). ``\\$``, ``\\(``, ``\\)``,
``\\'`` and ``\\"`` escape their character.
"""

import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "snn_robot"


class LaunchError(ValueError):
    """A launch file this runner cannot start, with the reason."""


@dataclass(frozen=True)
class Substitution:
    kind: str
    arguments: tuple[tuple, ...]  # each argument: parts (str or Substitution)


ESCAPED = "$()'\" "  # characters a backslash turns into text


def parse(text: str) -> tuple:
    """The parts of ``text``: strings and :class:`Substitution` s."""
    return _parts(text, 0)[0]


def _parts(text: str, i: int, stop: str = "") -> tuple[tuple, int]:
    """Parts from ``text[i:]`` up to the end or an unescaped character of ``stop``."""
    parts, fragment = [], []
    while i < len(text) and text[i] not in stop:
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in ESCAPED:
            fragment.append(text[i + 1])
            i += 2
        elif text.startswith("$(", i):
            if fragment:
                parts.append("".join(fragment))
                fragment = []
            substitution, i = _substitution(text, i + 2)
            parts.append(substitution)
        else:
            fragment.append(text[i])
            i += 1
    if fragment:
        parts.append("".join(fragment))
    return tuple(parts), i


def _argument(text: str, i: int) -> tuple[tuple, int]:
    """One argument of a substitution: quoted (the quotes removed), or unquoted up to a space or ``)``."""
    if text[i] not in "'\"":
        return _parts(text, i, " )")
    quote = text[i]
    parts, i = _parts(text, i + 1, quote)
    if i == len(text):
        raise LaunchError(f"unterminated {quote} quote in {text!r}")
    return parts or ("",), i + 1


def _substitution(text: str, i: int) -> tuple[Substitution, int]:
    start = i
    while i < len(text) and text[i] not in " )":
        i += 1
    kind = text[start:i]
    if not kind:
        raise LaunchError(f"a substitution without a name in {text!r}")
    arguments = []
    while i < len(text) and text[i] == " ":
        while i < len(text) and text[i] == " ":
            i += 1
        if i < len(text) and text[i] == ")":
            break
        argument, i = _argument(text, i)
        arguments.append(argument)
    if i == len(text):
        raise LaunchError(f"unterminated substitution $({kind} ...) in {text!r}")
    return Substitution(kind, tuple(arguments)), i + 1


def ament_prefix(package: str) -> Path | None:
    """The install prefix that holds ``package`` in the ament index (``AMENT_PREFIX_PATH``, as a
    sourced colcon install sets it), or None."""
    for prefix in filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)):
        if (Path(prefix) / "share/ament_index/resource_index/packages" / package).exists():
            return Path(prefix)
    return None


def package_share(package: str = PACKAGE) -> Path:
    """A package's share directory: from the ament index (``AMENT_PREFIX_PATH``, as a sourced colcon
    install sets it); for this package also its source tree or ``sys.prefix/share``."""
    prefix = ament_prefix(package)
    if prefix is not None:
        return prefix / "share" / package
    looked = ["the ament index (AMENT_PREFIX_PATH)"]
    if package == PACKAGE:
        source, installed = Path(__file__).resolve().parents[2], Path(sys.prefix) / "share" / PACKAGE
        if (source / "package.xml").exists():
            return source
        if installed.exists():
            return installed
        looked += [str(source), str(installed)]
    raise LaunchError(f"cannot find the {package} share directory (looked in {', '.join(looked)})")


@dataclass(frozen=True)
class Context:
    """What a substitution reads: the launch configurations in scope and the launch file being read."""
    variables: Mapping[str, str]
    file: Path | None = None


def _env(context: Context, name: str, *default: str) -> str:
    if name not in os.environ and not default:
        raise LaunchError(f"environment variable {name!r} is not set (give a default: $(env {name} VALUE))")
    return os.environ.get(name, default[0] if default else "")


def _var(context: Context, name: str) -> str:
    if name not in context.variables:
        raise LaunchError(f"launch argument {name!r} is not declared")
    return context.variables[name]


def _find_pkg_share(context: Context, package: str) -> str:
    return str(package_share(package))


def _dirname(context: Context) -> str:
    if context.file is None:
        raise LaunchError("$(dirname) is the directory of a launch file; this text is not in one")
    return str(context.file.resolve().parent)


def _eval(context: Context, expression: str) -> str:
    """A Python expression with the math module's names in scope, as launch's ``eval`` reads it (a
    launch file is code the user runs, like a Python launch file)."""
    try:
        return str(eval(expression, {}, {"math": math, **vars(math)}))  # noqa: S307
    except Exception as error:  # noqa: BLE001 - any failure of the user's expression is reported as its own
        raise LaunchError(f"$(eval {expression!r}) failed: {type(error).__name__}: {error}") from None


KINDS: dict[str, tuple[Callable[..., str], int, int]] = {  # name: (evaluate, least, most arguments)
    "var": (_var, 1, 1),
    "env": (_env, 1, 2),
    "optenv": (lambda context, name, default="": os.environ.get(name, default), 1, 2),
    "find-pkg-share": (_find_pkg_share, 1, 1),
    "dirname": (_dirname, 0, 0),
    "eval": (_eval, 1, 1),
}


def evaluate(parts: tuple, context: Context) -> str:
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        if part.kind not in KINDS:
            raise LaunchError(f"substitution $({part.kind}) is not supported by this runner; it knows "
                              f"{', '.join(f'$({k})' for k in KINDS)}")
        function, least, most = KINDS[part.kind]
        if not least <= len(part.arguments) <= most:
            raise LaunchError(f"$({part.kind}) takes {least}-{most} arguments, got {len(part.arguments)}")
        out.append(function(context, *(evaluate(a, context) for a in part.arguments)))
    return "".join(out)


def substitute(text, variables: Mapping[str, str], file: Path | None = None) -> str:
    """``text`` with every substitution evaluated (a number or bool becomes its text); ``file`` is
    the launch file it comes from."""
    if isinstance(text, bool):
        return str(text).lower()
    return evaluate(parse(str(text)), Context(variables, file))
