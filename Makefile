# The README's commands. Each target installs what it needs on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
OVLAB := $(VENV)/bin/ovlab
# Debian packages the lab and the tests use. docker.io/etcd: `ovlab docker` tests start their
# own daemons inside lab VMs; deb never lets a system dockerd or etcd start (policy-rc.d,
# then their units disabled).
DEB_PKGS := iproute2 iputils-ping procps util-linux openssh-server openssh-client dpkg-dev \
	tshark graphviz nftables python3-venv chromium chromium-driver \
	docker.io etcd-server etcd-client busybox-static
PYTEST_ARGS ?=

.PHONY: setup deb venv consul demo test test-fast bench lint clean

setup: deb venv consul

# Debian 11's consul package, fetched into /var/cache/ovlab without touching apt's setup.
consul: venv
	@$(PY) -m toolkit.provision.consul_bin >/dev/null

deb:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  guard=""; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; guard=1; fi; \
	  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  rc=$$?; [ -n "$$guard" ] && rm -f /usr/sbin/policy-rc.d; \
	  case "$$missing" in *docker.io*|*etcd-server*) \
	    if [ -d /run/systemd/system ]; then \
	      systemctl disable -q docker.service docker.socket containerd.service etcd.service 2>/dev/null || true; fi;; \
	  esac; exit $$rc; \
	fi

# Bytecode is compiled here, not on first import: with PYTHONDONTWRITEBYTECODE=1 (set on
# the lab machines) every ovlab process would otherwise recompile each module it imports,
# ~2x the interpreter's own start (bench/bench_netns.py). Only changed files are redone.
venv: $(VENV)/.installed
	@$(PY) -m compileall -q toolkit >/dev/null

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# compat mode puts the tree on sys.path with a .pth file: a faster start than the import hook.
	$(PY) -m pip install -q --config-settings editable_mode=compat -e '.[dev]'
	touch $@

# The libnetwork demo as a walkthrough: brings seed-demo up, provisions it, checks every step.
demo: setup
	$(OVLAB) walk labs/libnetwork-overlay --auto

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

# The fast layer alone: no root, no lab, any user (README, "Testing"). tests/conftest.py
# names its modules; only those are imported.
test-fast: venv
	$(PY) -m pytest -m unit -p no:cacheprovider $(PYTEST_ARGS) $$($(PY) -m tests.conftest)

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# ruff, mypy and ansible-lint come with the venv's dev extra; deb brings python3-venv, which
# a fresh Debian lacks. .ci/run runs this before the tests. ansible-lint reads .ansible-lint
# (production profile, offline: no Galaxy downloads); the venv's bin goes first on PATH so
# it runs the venv's ansible.
lint: deb venv
	$(VENV)/bin/ruff check toolkit tests bench
	$(VENV)/bin/ruff format --check toolkit tests bench
	$(VENV)/bin/mypy toolkit
	PATH="$(abspath $(VENV))/bin:$$PATH" NO_COLOR=1 $(VENV)/bin/ansible-lint --offline playbooks inventories

clean:
	-$(OVLAB) lab down --all
	rm -rf $(VENV)
