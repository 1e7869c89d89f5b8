# oe-agent: one non-recursive build. `make`, `make check`, `make demo`, `make bench`,
# `make install` (PREFIX, DESTDIR), `make SAN=1` (ASan + UBSan), `make V=1` (show commands).
# Components are archives of their directory's *.c files; tests, fuzzers and benchmarks are
# found by name (tests/unit/test_*.c, tests/fuzz/fuzz_*.c, tests/bench/*.c).

PREFIX  ?= /usr/local
DESTDIR ?=
SBINDIR := $(PREFIX)/sbin
MANDIR  := $(PREFIX)/share/man
SYSCONFDIR ?= /etc

CC      ?= cc
FUZZCC  ?= clang
SAN     ?= 0
B       := $(if $(filter 1,$(SAN)),build-san,build)

# STYLE.md 15. -Wno-unused-parameter on purpose: callbacks have fixed signatures (loop watches
# and timers, kern_ops and ctl handlers, the ipsec command table, libFuzzer entry points) and
# ~40 of them ignore an argument; (void) casts there would be noise, not safety.
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
	-Wno-unused-parameter
ifneq ($(filter true 1,$(CI) $(WERROR)),)
WARN += -Werror
endif
CPPFLAGS += -D_GNU_SOURCE -Ilib -Ipolicy-groups -Ikernel -Idnskeys -Ioe-agent -Itests/unit \
	-DOE_SYSCONFDIR='"$(SYSCONFDIR)"'
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 $(WARN) -MMD -MP
ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
CFLAGS  += $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
endif
LDLIBS  := -lcrypto -lcares -lldns -lnftables -lnetfilter_queue -lmnl

ifeq ($(V),1)
Q :=
say :=
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2);
endif

all: programs

# --- components (order matters for static linking: users before what they use) --------------
COMPONENTS := agent pg kern dk oe
agent_DIRS := oe-agent oe-agent/ike
pg_DIRS    := policy-groups
kern_DIRS  := kernel
dk_DIRS    := dnskeys
oe_DIRS    := lib
PROG_MAINS := oe-agent/main.c $(wildcard oe-agent/cli/*.c)

define component
$(1)_SRCS := $$(filter-out $(PROG_MAINS),$$(foreach d,$$($(1)_DIRS),$$(wildcard $$(d)/*.c)))
$(1)_OBJS := $$(patsubst %.c,$(B)/obj/%.o,$$($(1)_SRCS))
$(B)/lib$(1).a: $$($(1)_OBJS)
	$$(call say,AR,$$@)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach c,$(COMPONENTS),$(eval $(call component,$(c))))
ALL_ARCHIVES := $(foreach c,$(COMPONENTS),$(B)/lib$(c).a)
ALL_SRCS := $(foreach c,$(COMPONENTS),$($(c)_SRCS))

# Objects live under $(B)/obj/ so that the program $(B)/oe-agent and the directory of
# oe-agent/'s objects do not collide.
$(B)/obj/%.o: %.c
	$(call say,CC,$<)mkdir -p $(@D) && $(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# --- programs ---------------------------------------------------------------------------------
CLI_SRCS := $(wildcard oe-agent/cli/*.c)
PROGRAMS := $(if $(wildcard oe-agent/main.c),$(B)/oe-agent) $(if $(CLI_SRCS),$(B)/ipsec)
programs: $(PROGRAMS)

$(B)/oe-agent: $(B)/obj/oe-agent/main.o $(ALL_ARCHIVES)
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/ipsec: $(patsubst %.c,$(B)/obj/%.o,$(CLI_SRCS)) $(ALL_ARCHIVES)
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# --- unit tests and benchmarks -------------------------------------------------------------------
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(B)/bench/%,$(BENCH_SRCS))

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(ALL_ARCHIVES)
	$(call say,LD,$@)mkdir -p $(@D) && $(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/bench/%: $(B)/obj/tests/bench/%.o $(ALL_ARCHIVES)
	$(call say,LD,$@)mkdir -p $(@D) && $(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# --- fuzzers: clang + libFuzzer, every component source rebuilt with coverage ---------------------
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRCS))
FUZZ_OBJS := $(patsubst %.c,$(B)/fuzzobj/%.o,$(ALL_SRCS))
FUZZFLAGS := -std=gnu11 -g -O1 -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=undefined -MMD -MP

$(B)/fuzzobj/%.o: %.c
	$(call say,FUZZCC,$<)mkdir -p $(@D) && $(FUZZCC) $(CPPFLAGS) $(FUZZFLAGS) -c -o $@ $<
$(B)/fuzz/%: $(B)/fuzzobj/tests/fuzz/%.o $(FUZZ_OBJS)
	$(call say,LD,$@)mkdir -p $(@D) && $(FUZZCC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

# --- the two set-up commands ------------------------------------------------------------------
deps:
	@tools/deps.sh

tests: programs $(UNIT_BINS) $(BENCH_BINS) $(FUZZ_BINS)

check: deps
	@$(MAKE) --no-print-directory tests
	@B=$(B) tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory programs
	@B=$(B) tests/demo.sh

bench: programs $(BENCH_BINS)
	@for b in $(BENCH_BINS); do echo "== $$b"; $$b || exit 1; done

fuzz: $(FUZZ_BINS)

install: programs
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSCONFDIR)/ipsec.d/policies
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(SBINDIR)/
	for f in man/*.5; do [ -e "$$f" ] && install -m 0644 $$f $(DESTDIR)$(MANDIR)/man5/; done; true
	for f in man/*.8; do [ -e "$$f" ] && install -m 0644 $$f $(DESTDIR)$(MANDIR)/man8/; done; true
	for f in ipsec.d/policies/*; do \
		t=$(DESTDIR)$(SYSCONFDIR)/ipsec.d/policies/$${f##*/}; \
		[ -e "$$t" ] || install -m 0644 $$f $$t; done
	[ -e $(DESTDIR)$(SYSCONFDIR)/ipsec.conf ] || \
		install -m 0644 ipsec.d/ipsec.conf $(DESTDIR)$(SYSCONFDIR)/ipsec.conf

clean:
	rm -rf build build-san

.PHONY: all programs deps tests check demo bench fuzz install clean
.SECONDARY:

-include $(shell find $(B) -name '*.d' 2>/dev/null)
