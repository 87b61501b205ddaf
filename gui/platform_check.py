"""Can Qt open a real window here? Check the system libraries Qt's xcb platform plugin needs.

Qt itself only says "no Qt platform plugin could be initialized" when, on a fresh Debian or Ubuntu,
``libxcb-cursor0``, ``libxcb-icccm4`` or ``libxcb-keysyms1`` are missing. This module finds the
missing shared libraries with ``ldd`` on the plugin and the Qt libraries it loads, names the Debian
packages that hold them, and either installs them (``--install``, as root or through sudo) or prints
the exact command to run.

    python -m gui.platform_check            # report; exit 0 when the window can open, 3 when not
    python -m gui.platform_check --install  # install what is missing with apt-get, then report
    python -m gui.platform_check --install --test-tools   # also Xvfb, for the test suite

No Qt import here (a missing library must not abort the check itself). Pure standard library.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

EXIT_OK, EXIT_MISSING = 0, 3

# soname (without version) -> the Debian/Ubuntu package that ships it
PACKAGES = {
    "libxcb-cursor.so": "libxcb-cursor0",
    "libxcb-icccm.so": "libxcb-icccm4",
    "libxcb-keysyms.so": "libxcb-keysyms1",
    "libxcb-image.so": "libxcb-image0",
    "libxcb-render-util.so": "libxcb-render-util0",
    "libxcb-render.so": "libxcb-render0",
    "libxcb-randr.so": "libxcb-randr0",
    "libxcb-shape.so": "libxcb-shape0",
    "libxcb-shm.so": "libxcb-shm0",
    "libxcb-sync.so": "libxcb-sync1",
    "libxcb-xfixes.so": "libxcb-xfixes0",
    "libxcb-xkb.so": "libxcb-xkb1",
    "libxcb-xinput.so": "libxcb-xinput0",
    "libxcb-glx.so": "libxcb-glx0",
    "libxcb-util.so": "libxcb-util1",
    "libxcb.so": "libxcb1",
    "libX11-xcb.so": "libx11-xcb1",
    "libX11.so": "libx11-6",
    "libxkbcommon-x11.so": "libxkbcommon-x11-0",
    "libxkbcommon.so": "libxkbcommon0",
    "libEGL.so": "libegl1",
    "libGL.so": "libgl1",
    "libOpenGL.so": "libopengl0",
    "libfontconfig.so": "libfontconfig1",
    "libfreetype.so": "libfreetype6",
    "libdbus-1.so": "libdbus-1-3",
    "libglib-2.0.so": "libglib2.0-0",
    "libgthread-2.0.so": "libglib2.0-0",
    "libSM.so": "libsm6",
    "libICE.so": "libice6",
    "libXrender.so": "libxrender1",
    "libXext.so": "libxext6",
}
# what the test suite adds: a virtual X server for the real-window test (tests/gui/test_real_window_xcb.py)
TEST_PACKAGES = ("xvfb", "xauth")
# Qt libraries the xcb plugin pulls in at run time (dlopen'ed or linked)
QT_LIBS = ("libQt6XcbQpa.so.6", "libQt6Gui.so.6", "libQt6Core.so.6", "libQt6DBus.so.6", "libQt6Widgets.so.6")
_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


@dataclass
class PlatformReport:
    plugin: Path | None
    missing: list[str] = field(default_factory=list)  # sonames
    problem: str | None = None  # why the check itself could not run
    missing_tools: list[str] = field(default_factory=list)  # Debian packages of test tools

    @property
    def packages(self) -> list[str]:
        return sorted({package_for(s) for s in self.missing} | set(self.missing_tools))

    @property
    def ok(self) -> bool:
        return self.problem is None and not self.missing and not self.missing_tools

    def install_command(self) -> str:
        prefix = "" if _is_root() else "sudo "
        return f"{prefix}apt-get update && {prefix}apt-get install -y {' '.join(self.packages)}"

    def message(self) -> str:
        if self.problem:
            return self.problem
        if self.ok:
            return "Qt's xcb platform has every system library it needs."
        what = []
        if self.missing:
            what.append(
                f"Qt's xcb platform plugin needs system libraries that are not installed ({', '.join(self.missing)})"
            )
        if self.missing_tools:
            what.append(f"the test suite needs {', '.join(self.missing_tools)}")
        head = "SynthVol cannot open its window: " if self.missing else "Missing: "
        return head + "; ".join(what) + f".\nInstall them with:\n    {self.install_command()}"


def package_for(soname: str) -> str:
    base = soname.split(".so")[0] + ".so"
    if base in PACKAGES:
        return PACKAGES[base]
    version = soname.split(".so.")[1].split(".")[0] if ".so." in soname else ""
    return base[:-3].lower().replace("_", "-") + version  # libfoo.so.1 -> libfoo1, Debian's usual name


def qt_folder() -> Path | None:
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent / "Qt"


def check(qt: Path | None = None, test_tools: bool = False) -> PlatformReport:
    report = _check_libraries(qt)
    if test_tools and shutil.which("Xvfb") is None:
        report.missing_tools = list(TEST_PACKAGES)
    return report


def _check_libraries(qt: Path | None = None) -> PlatformReport:
    qt = qt or qt_folder()
    if qt is None:
        return PlatformReport(None, problem="PySide6 is not installed in this Python (pip install -e .).")
    plugin = qt / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.is_file():
        return PlatformReport(None, problem=f"{plugin}: Qt's xcb platform plugin is not there.")
    if shutil.which("ldd") is None:
        return PlatformReport(plugin, problem="ldd is not available; cannot check the system libraries.")
    targets = [plugin] + [qt / "lib" / name for name in QT_LIBS if (qt / "lib" / name).is_file()]
    missing: list[str] = []
    for target in targets:
        run = subprocess.run(["ldd", str(target)], capture_output=True, text=True, check=False)
        for soname in _NOT_FOUND.findall(run.stdout):
            if soname not in missing and not soname.startswith("libQt6"):
                missing.append(soname)
    return PlatformReport(plugin, missing)


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def install(report: PlatformReport) -> int:
    """apt-get install the missing packages (as root, or through sudo when it needs no password)."""
    if not shutil.which("apt-get"):
        print(
            report.message() + "\n(apt-get is not available here: install the equivalent packages.)",
            file=sys.stderr,
        )
        return EXIT_MISSING
    prefix: list[str] = []
    if not _is_root():
        if (
            shutil.which("sudo") is None
            or subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode
        ):
            print(report.message(), file=sys.stderr)
            return EXIT_MISSING
        prefix = ["sudo", "-n"]
    print(f"Installing the system libraries Qt needs: {' '.join(report.packages)}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", *report.packages],
    ):
        if subprocess.run(prefix + cmd, env=env, check=False).returncode:
            print(f"`{' '.join(prefix + cmd)}` failed.\n{report.message()}", file=sys.stderr)
            return EXIT_MISSING
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gui.platform_check", description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="install missing libraries with apt-get")
    parser.add_argument(
        "--test-tools", action="store_true", help="also check (and install) Xvfb for the tests"
    )
    parser.add_argument("--quiet", action="store_true", help="print only when something is missing")
    args = parser.parse_args(argv)
    report = check(test_tools=args.test_tools)
    if report.problem:
        print(report.problem, file=sys.stderr)
        return EXIT_MISSING
    if not report.ok and args.install:
        if install(report) != EXIT_OK:
            return EXIT_MISSING
        report = check(test_tools=args.test_tools)
    if not report.ok:
        print(report.message(), file=sys.stderr)
        return EXIT_MISSING
    if not args.quiet:
        print(report.message())
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
