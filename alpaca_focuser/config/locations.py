"""Where the configuration file is: the search order, the commented template shipped in the
package, and writing a new file from it.

Search order: ``--config FILE``, else the file named by ``ALPACA_FOCUSER_CONFIG``, else
``./config.toml``, else the user's configuration folder (``~/.config/alpaca-focuser/config.toml``
on Linux), else the system's (``/etc/alpaca-focuser/config.toml``). The project's own commented
template (``config.toml`` at the top of a source checkout) is never taken as a live configuration:
the server writes into its configuration, and that would dirty the repository.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import platformdirs
import tomlkit
from tomlkit.items import AoT

from ..settings import Settings
from .file import ConfigFile
from .reading import parse_settings
from .rules import ConfigError

APP_NAME = "alpaca-focuser"
ENV_VAR = "ALPACA_FOCUSER_CONFIG"
FILE_NAME = "config.toml"
TEMPLATE_RESOURCE = "config_template.toml"


def user_config_path() -> Path:
    """The file in this user's configuration folder (XDG_CONFIG_HOME is honoured on Linux)."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / FILE_NAME


def account_config_path(account: str) -> Path:
    """The file 'alpaca-focuser init' writes for ``account``: this user's honours XDG_CONFIG_HOME;
    another account's (the one that ran sudo) is found from its home folder. KeyError for an
    account that does not exist."""
    import getpass

    if account == getpass.getuser():
        return user_config_path()
    import pwd  # here: the module exists on Unix only, where sudo does

    return Path(pwd.getpwnam(account).pw_dir) / ".config" / APP_NAME / FILE_NAME


def system_config_path() -> Path:
    """The file a system service reads: /etc/alpaca-focuser on Linux (not /etc/xdg, where
    platformdirs would put it, because administrators look for a service's file in /etc)."""
    if sys.platform.startswith(("win", "darwin")):
        return Path(platformdirs.site_config_dir(APP_NAME, appauthor=False)) / FILE_NAME
    return Path("/etc") / APP_NAME / FILE_NAME


@dataclass(frozen=True)
class Located:
    """The outcome of the search: the file to use (None when there is none) and how it was found."""

    path: Path | None
    source: str
    looked_in: list[Path] = field(default_factory=list)
    skipped_template: Path | None = None


def is_project_template(path: Path) -> bool:
    """True for the tracked template at the top of a source checkout of this project."""
    folder = path.resolve().parent
    pyproject = folder / "pyproject.toml"
    if path.name != FILE_NAME or not (folder / "alpaca_focuser" / "__init__.py").is_file() or not pyproject.is_file():
        return False
    try:
        return f'name = "{APP_NAME}"' in pyproject.read_text(encoding="utf-8")
    except OSError:
        return False


def locate(explicit: str | None, environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Located:
    """Find the configuration file by the search order. An explicit file (--config or the
    environment variable) is returned even if missing, so loading it gives a clear error."""
    environ = os.environ if environ is None else environ
    if explicit is not None:
        return Located(Path(explicit), "--config")
    if environ.get(ENV_VAR):
        return Located(Path(environ[ENV_VAR]), f"the environment variable {ENV_VAR}")
    here = (cwd or Path.cwd()) / FILE_NAME
    skipped = None
    looked: list[Path] = []
    if here.is_file() and is_project_template(here):
        skipped = here
    else:
        looked.append(here)
        if here.is_file():
            return Located(Path(FILE_NAME) if cwd is None else here, "the current folder", looked)
    for path, source in ((user_config_path(), "your configuration folder"), (system_config_path(), "the system configuration folder")):
        looked.append(path)
        if path.is_file():
            return Located(path, source, looked, skipped)
    return Located(None, "", looked, skipped)


def new_file_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where a new configuration file goes: the environment variable's file if set, else the
    user's configuration folder."""
    environ = os.environ if environ is None else environ
    return Path(environ[ENV_VAR]) if environ.get(ENV_VAR) else user_config_path()


def template_text() -> str:
    """The commented configuration template shipped inside the package."""
    resource = resources.files("alpaca_focuser").joinpath(TEMPLATE_RESOURCE)
    text = resource.read_text(encoding="utf-8")
    if text.strip() == "../config.toml":
        # In the source tree the resource is a symbolic link to the repository's config.toml (one
        # file to edit); a Windows checkout without symbolic links holds the link's target as text.
        text = (Path(str(resource)).parent / text.strip()).read_text(encoding="utf-8")
    return text


def template_with(settings: Settings | None = None, port: str | None = None) -> str:
    """The template, with the focusers of ``settings`` (their names and ports) or with ``port``
    for its one focuser; every comment kept."""
    document = tomlkit.parse(template_text())
    tables = document["focuser"]
    assert isinstance(tables, AoT), "the template has [[focuser]] tables"
    if port is not None:
        tables[0]["port"] = port
    if settings is not None:
        for index, focuser in enumerate(settings.focusers):
            if index >= len(tables):
                tables.append(tomlkit.table())
            tables[index]["name"] = focuser.name
            tables[index]["port"] = focuser.port
            tables[index]["route"] = focuser.route
            if focuser.unique_id:
                tables[index]["unique_id"] = focuser.unique_id
    return tomlkit.dumps(document)


def write_new(path: Path, text: str) -> None:
    """Create ``path`` (and its folders) with ``text``; never over an existing file."""
    if path.exists():
        raise ConfigError(f"{path} already exists; it was left as it is. Edit it, or remove it first to start from the template again.", path=path)
    parse_settings(text, path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the folder {path.parent} ({exc.strerror}). Choose another place with --config or {ENV_VAR}.", path=path) from None
    try:
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temp, 0o644)
            os.link(temp, path)  # whole or not at all, and never over a file made meanwhile
        finally:
            os.unlink(temp)
    except FileExistsError:
        raise ConfigError(f"{path} already exists; it was left as it is.", path=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot write {path} ({exc.strerror}). Choose another place with --config or {ENV_VAR}.", path=path) from None


def create_for(path: Path, settings: Settings) -> ConfigFile:
    """Write a new configuration file at ``path`` holding the focusers now served, and load it."""
    write_new(path, template_with(settings))
    return ConfigFile.load(path)
