# The two commands of the README: `make run` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench icons schemas clean

run: $(STAMP)
	$(BIN)/stethoscope-desktop

test: $(STAMP)
	bash .ci/install-debian-packages
	bash .ci/install-tpm2-pytss $(BIN)/python
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy stethoscope_desktop tests/compat
	$(BIN)/mypy --platform darwin stethoscope_desktop/tables stethoscope_desktop/engines \
		stethoscope_desktop/device_trust stethoscope_desktop/fleet_extension
	$(BIN)/mypy --platform win32 stethoscope_desktop/tables stethoscope_desktop/autostart \
		stethoscope_desktop/engines stethoscope_desktop/device_trust \
		stethoscope_desktop/fleet_extension
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python tests/benchmarks/bench_scan.py
	$(BIN)/python tests/benchmarks/bench_scale.py

# Write resources/schemas/*.schema.json from the file formats' declarations (after changing one).
schemas: $(STAMP)
	$(BIN)/python -m stethoscope_desktop.core.schemas

# Render the tray's status icons from their SVGs into resources/icons/tray/ (after editing one).
icons: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -c "from PySide6.QtGui import QGuiApplication; \
	app = QGuiApplication([]); from stethoscope_desktop.ui.icons import render_tray_pngs; \
	print(len(render_tray_pngs()), 'icons rendered')"

# The tray's own English strings, stethoscope_desktop/core/strings_en.py, from the `strings:` of
# practices/instructions.en.yaml (after editing them; a test says when it is due).
.PHONY: strings
strings: $(STAMP)
	$(BIN)/python -m stethoscope_desktop.core.strings_gen

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# compat: a plain path entry to the checkout (setuptools' default finder warns about folders
	# named like the package; resources.py finds checks/, practices/, resources/ in a checkout).
	$(BIN)/python -m pip install --quiet -e '.[gui,test]' --config-settings editable_mode=compat
	touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info
