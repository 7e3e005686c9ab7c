"""Ship the top-level checks/, practices/ and resources/ in the wheel as stethoscope_desktop/_data/.

Each folder and each folder below it is a package of data (`stethoscope_desktop._data.resources.
icons`…) declared with its files, so setuptools neither leaves one out nor warns that it would.
Everything else about the build lives in pyproject.toml; stethoscope_desktop/resources.py is the one
module that finds these folders in a checkout, an installed wheel and a frozen bundle.
"""

from pathlib import Path

from setuptools import find_packages, setup

DATA_FOLDERS = ("checks", "practices", "resources")
DATA_PACKAGE = "stethoscope_desktop._data"


def data_packages() -> list[str]:
    """Return the package of each data folder and of each folder below it."""
    here = Path(__file__).parent
    packages = []
    for folder in DATA_FOLDERS:
        for path in sorted([here / folder, *(here / folder).rglob("*")]):
            if path.is_dir() and path.name != "__pycache__":
                if not path.name.isidentifier():  # a package name: no dots or dashes
                    raise SystemExit(f"{path}: name a data folder as a Python identifier")
                packages.append(".".join((DATA_PACKAGE, *path.relative_to(here).parts)))
    return packages


DATA_PACKAGES = data_packages()

setup(
    packages=[
        *find_packages(include=["stethoscope_desktop", "stethoscope_desktop.*"]),
        *DATA_PACKAGES,
    ],
    package_dir={f"{DATA_PACKAGE}.{folder}": folder for folder in DATA_FOLDERS},
    package_data={package: ["*"] for package in DATA_PACKAGES},
)
