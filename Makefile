# Two commands do everything: `make demo` (the main job on real data) and `make test`.
# Each creates .venv and installs the pinned stack (constraints.txt) the first time.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= data/fashion-mnist
OUT_DIR ?= out

.PHONY: install demo data preprocess tensorboard-screenshot test test-fast lint format bench bench-full clean lock

$(STAMP): setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

# Fashion-MNIST: Debian's package when we may install it (root, apt), else the
# downloader's mirrors; the downloader knows where the package puts the files.
data: install
	@if ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1 && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist || true; fi
	$(BIN)/python -m pipeline.download --dataset fashion_mnist --dest $(DATA_DIR)

preprocess: data
	$(BIN)/python -m pipeline.preprocess --input-dir $(DATA_DIR) --output-dir $(OUT_DIR)/data --overwrite

# The whole job: IDX -> TFRecords + transform graph -> trained CNN -> SavedModel -> test predictions.
demo: preprocess
	rm -rf $(OUT_DIR)/job
	$(BIN)/python -m trainer.task --data-dir $(OUT_DIR)/data --job-dir $(OUT_DIR)/job
	$(BIN)/python -m trainer.predict --saved-model $(OUT_DIR)/job/export/best \
	  --idx-images $(DATA_DIR)/t10k-images-idx3-ubyte.gz --idx-labels $(DATA_DIR)/t10k-labels-idx1-ubyte.gz \
	  --output $(OUT_DIR)/predictions.csv --report-dir $(OUT_DIR)/report
	@echo "outputs in $(OUT_DIR)/: data/ (TFRecords, transform_fn/), job/ (checkpoints, export/), report/ (report.md)"
	@echo "TensorBoard: $(BIN)/tensorboard --logdir $(OUT_DIR)/job"

# Not in CI: after `make demo`, with Debian's chromium (apt-get install -y chromium).
tensorboard-screenshot: install
	$(BIN)/python -m tools.tensorboard_screenshot --job-dir $(OUT_DIR)/job --output docs/tensorboard_scalars.png

# pytest-xdist: TEST_WORKERS processes, each test file whole on one (its module fixtures built once).
TEST_WORKERS ?= 2
test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

test-fast: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m bench --json bench-results.json

bench-full: install
	$(BIN)/python -m bench --full --json bench-results.json

clean:
	rm -rf $(VENV) $(OUT_DIR) build dist *.egg-info

# Re-resolve the stack and pin it (run after changing install_requires).
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet -e '.[test,bench]'
	.venv-lock/bin/python -m pip freeze --exclude-editable | grep -v '^idx-tfrecords' > constraints.txt
	rm -rf .venv-lock
