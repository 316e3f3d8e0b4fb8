# Quick start: `make demo` runs validate → plan → apply → plan on the embedded paper broker; `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
RUNTIME_STAMP := $(VENV)/.runtime-stamp
BACKTEST_STAMP := $(VENV)/.backtest-stamp
RC := $(BIN)/reconciler

.PHONY: install demo backtest test lint typecheck bench bench-check bench-readme bench-readme-quick mutate clean schema lock screenshots

install: $(STAMP)

# The demo needs reconciler alone (a minute on a fresh machine); the tests need the [dev] extra (linters, the
# backtest peers, cloud SDK fakes), installed by the first `make test`.
$(RUNTIME_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME_STAMP)

$(STAMP): $(RUNTIME_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The demo runs in the repository's own journal (journal.url in reconciler.yaml), so `reconciler history` and
# `reconciler plan` afterwards show its world; a journal already there is kept aside, never deleted.
demo: $(RUNTIME_STAMP)
	@if [ -f .reconciler/journal.db ]; then \
	  mv .reconciler/journal.db ".reconciler/journal.db.before-demo-$$(date +%Y%m%d%H%M%S)"; \
	  rm -f .reconciler/journal.db-wal .reconciler/journal.db-shm; \
	  echo "(the previous .reconciler/journal.db was kept aside as .reconciler/journal.db.before-demo-*)"; fi
	rm -f .reconciler/demo-plan.json
	$(RC) validate
	$(RC) plan --out .reconciler/demo-plan.json
	$(RC) apply .reconciler/demo-plan.json --auto-approve
	@echo "--- plan again: the accounts now match their targets ---"
	$(RC) plan --detailed-exitcode
	@echo "--- applying the same plan file again sends nothing ---"
	$(RC) apply .reconciler/demo-plan.json --auto-approve
	$(RC) history

# The README's backtest on a fresh clone: the [backtest] extra (numpy, pandas, matplotlib) and the skfolio wheel
# alone for its bundled price files (read as files, so none of skfolio's own dependencies is needed).
$(BACKTEST_STAMP): $(RUNTIME_STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[backtest]'
	$(BIN)/python -m pip install --quiet --no-deps 'skfolio>=1.0'
	touch $(BACKTEST_STAMP)

backtest: $(BACKTEST_STAMP)
	$(RC) -c examples/backtest/reconciler.yaml backtest sp500-20 --dataset sp500 --start 2000-01-01 \
	  --strategy never --strategy calendar:quarterly --strategy threshold:rel=0.25 \
	  --strategy calendar-threshold:annual,rel=0.25 --strategy calendar-threshold:annual,rel=0.25,at=end \
	  --strategy opportunistic --cash 100000 --contribution 500 --every monthly \
	  --tax-short 0.35 --tax-long 0.15 --lots hifo --report backtest.html

lint: $(STAMP)
	$(BIN)/ruff check reconciler tests bench tools

typecheck: $(STAMP)
	$(BIN)/mypy --strict reconciler

# With RECONCILER_TEST_PG_URL (an admin URL of a PostgreSQL server; .ci/run sets one up) the whole suite runs a
# second time with every journal on PostgreSQL and every in-process clock a year and a day ahead (the suite must
# pass on any date); without it, the second run is on SQLite.
# The generated built-in probe (tests/policy/test_builtins.py, ~2,600 Rego evaluations) runs in its own process,
# once: late in a full run rego-cpp once aborted the whole process inside it (see docs/policies.md), and it depends
# on neither the journal nor the clock. The generated fail-closed proof (tests/proof, SQLite journals of its own)
# draws its 5,000 cases in the first run and 500 in the second, where only the shifted clock is new to it.
test: lint typecheck
	env -u RECONCILER_TEST_PG_URL $(BIN)/python -m pytest -q --ignore=tests/policy/test_builtins.py
	$(BIN)/python -m pytest -q tests/policy/test_builtins.py
	@echo "--- the suite again, the clock 366 days ahead$${RECONCILER_TEST_PG_URL:+, journals on PostgreSQL} ---"
	RECONCILER_TEST_CLOCK_SHIFT_DAYS=366 RECONCILER_PROOF_CASES=500 $(BIN)/python -m pytest -q \
		--ignore=tests/policy/test_builtins.py

bench: $(STAMP)
	$(BIN)/python bench/plan_scale.py

# Short forms of the plan, backtest, hostile-broker, apply and what-if benchmarks, judged by ratios measured in the same run
# (never absolute times): fails when one is worse than its recorded figure by half again (or, not recorded, than
# half its target). RECONCILER_BENCH_SLOWDOWN=2 must fail every ratio (tests/test_bench_guard.py).
bench-check: $(STAMP)
	$(BIN)/python bench/check.py

# Every benchmark the README shows, in its README form, one at a time, then the README's generated tables from
# their results (bench/readme_run.py): 38 minutes on 2 cores at load 5-16. The quick form shrinks the sizes only.
bench-readme: $(STAMP)
	$(BIN)/python bench/readme_run.py

bench-readme-quick: $(STAMP)
	$(BIN)/python bench/readme_run.py --quick

# Mutation testing of reconciler/core (docs/mutation.md): per-module scores and the surviving mutants, one module at
# a time. MUTATE_ARGS="--module planner", or "--sample 40 --max-seconds 600" for a time-bounded sample.
mutate: $(STAMP)
	$(BIN)/python -m tools.mutate $(MUTATE_ARGS)

# The pictures in docs/images/ (the plan comment as GitHub shows it, `plan` at 100 and 120 columns, the backtest
# report) through headless Chromium (apt-get install -y chromium); not run by CI. SCREENSHOT_ARGS="--only comment".
screenshots: $(STAMP)
	$(BIN)/python -m tools.screenshots $(SCREENSHOT_ARGS)

clean:
	rm -rf $(VENV) .reconciler .pytest_cache .mypy_cache .ruff_cache .hypothesis

schema: $(STAMP)
	$(BIN)/python -c "import json; from reconciler.core.models import Plan; \
	print(json.dumps(Plan.model_json_schema(mode='serialization'), indent=2, sort_keys=True))" > docs/plan.schema.json
	$(BIN)/python -c "from pathlib import Path; from reconciler.workspace.schema import write_schemas; write_schemas(Path('docs'))"

# The lock file every workflow installs from (hashes checked): the runtime and its extras for Python 3.11 on the
# Linux runners, plus the build backend. Regenerate after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/python -m uv pip compile pyproject.toml requirements/build.in --extra calendars --extra secrets --extra crypto --extra notify \
	  --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 --no-header -o requirements/ci.lock
