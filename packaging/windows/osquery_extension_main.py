"""The program of stethoscope_desktop.ext.exe, the osquery extension on Windows.

osqueryd starts the programs its autoload file names with its flags only
(`--socket PATH --timeout S --interval S [--verbose]`), and on Windows only an .exe (a file
ending in .ext it runs as a Python script, with its own Python). So the frozen app carries this
third program beside the tray app and the command line one: `stethoscope-desktop osquery-extension`
with osqueryd's flags (packaging/stethoscope-desktop.spec builds it on Windows; the installer adds
it to osquery's autoload file when built with --osquery-extension).
"""

import sys

from stethoscope_desktop.cli import main

raise SystemExit(main(["osquery-extension", *sys.argv[1:]]))
