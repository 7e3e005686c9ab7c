"""Ship the top-level checks/, practices/ and resources/ in the wheel as stethoscope_desktop/_data/.

Everything else about the build lives in pyproject.toml; stethoscope_desktop/resources.py is the one
module that finds these folders in a checkout, an installed wheel and a frozen bundle.
"""

from setuptools import find_packages, setup

DATA_FOLDERS = ("checks", "practices", "resources")

setup(
    packages=[
        *find_packages(include=["stethoscope_desktop", "stethoscope_desktop.*"]),
        *(f"stethoscope_desktop._data.{folder}" for folder in DATA_FOLDERS),
    ],
    package_dir={f"stethoscope_desktop._data.{folder}": folder for folder in DATA_FOLDERS},
    package_data={f"stethoscope_desktop._data.{folder}": ["**/*"] for folder in DATA_FOLDERS},
)
