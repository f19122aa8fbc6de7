# Sendtex: `make run` serves the app, `make test` runs every test. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CATALOGS := $(wildcard sendtex/translations/*/LC_MESSAGES/messages.po)

.PHONY: run test bench install install-test test-packages bench-packages translations extract-messages clean

run: install
	$(BIN)/sendtex init-db
	$(BIN)/sendtex demo
	$(BIN)/sendtex serve

test: install-test test-packages
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install-test bench-packages
	@set -e; for script in bench/bench_*.py; do \
		[ -e "$$script" ] || { echo "no benchmarks yet"; break; }; \
		echo "== $$script"; $(BIN)/python "$$script"; done

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed translations
install-test: $(VENV)/.installed-test translations

translations: $(CATALOGS:.po=.mo)

%.mo: %.po
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@ -l $(word 3,$(subst /, ,$<)) --statistics 2>&1 | tail -1

# Debian packages the tests drive: chromium (browser tests), opendkim + opendkim-tools (DKIM verification).
# Outside CI a test whose package cannot be installed is skipped and says why; in CI it fails.
test-packages:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	{ command -v opendkim || [ -x /usr/sbin/opendkim ]; } >/dev/null 2>&1 || missing="$$missing opendkim opendkim-tools"; \
	[ -x /usr/sbin/dovecot ] || missing="$$missing dovecot-imapd"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's$$missing for the tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
			|| echo "$$missing could not be installed; the tests that need them will be skipped"; \
	fi

# The benchmarks drive postfix's smtp-sink and wrk.
bench-packages:
	@missing=""; \
	[ -x /usr/sbin/smtp-sink ] || missing="$$missing postfix"; \
	command -v wrk >/dev/null 2>&1 || missing="$$missing wrk"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's$$missing for the benchmarks"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# Refresh the message catalogs after changing user-facing text.
extract-messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o sendtex/translations/messages.pot --no-location --sort-output .
	$(BIN)/pybabel update -i sendtex/translations/messages.pot -d sendtex/translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) .pytest_cache
