# lua-paddle: build, test and package the Lua C modules.
#   make              build for Lua 5.4 into build/5.4
#   make LUA=luajit   build for LuaJIT 2.1 (OpenResty's ABI) into build/luajit
#   make deps         install the Debian packages listed in .ci/debian-packages
#   make test         deps, warning-free builds for both, luacheck, every suite
#                     (ASan+UBSan and valgrind runs included)
#   make demo         run examples/demo.lua against the local emulator

LUA ?= lua5.4
ifeq ($(LUA),luajit)
  LUA_INC ?= /usr/include/luajit-2.1
  BUILD ?= build/luajit
else
  LUA_INC ?= /usr/include/lua5.4
  BUILD ?= build/5.4
endif

CC ?= cc
OPT ?= -O2 -g
WARN := -std=c99 -Wall -Wextra -Wshadow -pedantic -Wmissing-prototypes
ALL_CFLAGS = $(OPT) $(WARN) $(WERROR) -fPIC -fvisibility=hidden \
  -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I$(LUA_INC) -Icsrc $(CFLAGS)
SHARED := -shared

# paddle.core is every csrc/*.c but the libcurl transport.
CURL_SRC := csrc/curl.c
CORE_SRC := $(filter-out $(CURL_SRC),$(wildcard csrc/*.c))
HEADERS := $(wildcard csrc/*.h)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEB_PACKAGES := $(shell grep -v '^\#' .ci/debian-packages)

.PHONY: all build-all deps test lint demo bench bench-tools fuzz test-valgrind test-asan clean

all: $(BUILD)/paddle/core.so $(BUILD)/paddle/curl.so

$(BUILD)/paddle/core.so: $(CORE_SRC) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $(CORE_SRC) $(SHARED) $(LDFLAGS) -lcrypto

$(BUILD)/paddle/curl.so: $(CURL_SRC) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $(CURL_SRC) $(SHARED) $(LDFLAGS) -lcurl

build-all:
	$(MAKE) LUA=lua5.4 all
	$(MAKE) LUA=luajit all

# Idempotent: installs only what is missing, refreshing the package lists first.
# A package counts as present when installed or provided by an installed one
# (NodeSource's nodejs provides npm and conflicts with Debian's).
# Then the node packages of the contract suite (Prism), pinned by
# spec/contract/package-lock.json, with npm ci when the lock changed.
CONTRACT_DIR := spec/contract
deps:
	@missing=""; provided=$$(dpkg-query -W -f='$${Status}|$${Provides}\n' 2>/dev/null \
	  | sed -n 's/^.* ok installed|//p' | tr ',' '\n' | sed 's/^ *//; s/ .*//'); \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' \
	    || printf '%s\n' $$provided | grep -qx "$$p" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y $$missing; \
	else echo "make deps: all Debian packages present"; fi
	@cd $(CONTRACT_DIR) && if [ -x node_modules/.bin/prism ] \
	    && cmp -s package-lock.json node_modules/.lua-paddle-lock; then \
	  echo "make deps: node packages present ($(CONTRACT_DIR))"; \
	else \
	  echo "make deps: npm ci in $(CONTRACT_DIR)"; \
	  npm ci --ignore-scripts --no-audit --no-fund && cp package-lock.json node_modules/.lua-paddle-lock; \
	fi

# Every build in the test run is warning-free: -Werror, rebuilt from scratch.
test: deps
	$(MAKE) -B LUA=lua5.4 WERROR=-Werror all
	$(MAKE) -B LUA=luajit WERROR=-Werror all
	spec/run

lint:
	luacheck -q .

demo: deps
	$(MAKE) LUA=lua5.4 all
	bin/run-demo

bench: deps
	$(MAKE) LUA=lua5.4 all
	$(MAKE) LUA=luajit all
	$(MAKE) bench-tools
	@# Optional peer: the official node SDK, skipped when npm cannot install it.
	-command -v npm >/dev/null && npm ci --prefix bench/node --no-audit --no-fund --loglevel=error
	bench/run

# The floors bench/run compares against: C loops over libcurl and OpenSSL.
bench-tools: build/bench/raw-curl build/bench/raw-hmac

build/bench/raw-curl: bench/raw-curl.c
	@mkdir -p $(@D)
	$(CC) -O2 $(WARN) -D_POSIX_C_SOURCE=200809L -o $@ $< -lcurl

build/bench/raw-hmac: bench/raw-hmac.c
	@mkdir -p $(@D)
	$(CC) -O2 $(WARN) -D_POSIX_C_SOURCE=200809L -o $@ $< -lcrypto

fuzz: deps
	fuzz/run

# Both are also suites of `make test` (spec/run); each builds what it needs.
test-valgrind: deps
	spec/run-valgrind

# clang with AddressSanitizer + UndefinedBehaviorSanitizer, into build/asan.
test-asan: deps
	spec/run-asan

clean:
	rm -rf build
