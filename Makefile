# xbemu: one make process, one graph, objects out of tree (STYLE.md section 9).
#
#   make                 library build/rel/libxbemu.a and the tool build/rel/xbemu
#   make test            CUnit suites with OMP_NUM_THREADS=1 and 4, then the CLI tests
#   make check-asan      the same tests under AddressSanitizer + UBSan (build/san)
#   make bench           micro-benchmarks (bench/), JSON lines, medians of several runs
#   make bench-train     training workloads against the PyTorch references
#   make fuzz            libFuzzer targets for the INI and IDX readers (clang)
#   make install PREFIX=/usr/local
#   NATIVE=1             compile with -march=native instead of x86-64-v2
#   MPI=1                build the MPI sweep mode with mpicc

VERSION  := 0.1.0
PREFIX   ?= /usr/local
BUILD    ?= build/$(if $(SANITIZE),san,$(if $(MPI),mpi,rel))
ifneq ($(MPI),)
CC       := mpicc
CPPFLAGS += -DXB_HAVE_MPI=1
endif

ARCH     := $(if $(NATIVE),-march=native,-march=x86-64-v2)
CFLAGS   ?= -O2 -g
CFLAGS   += $(ARCH) -std=c11 -Wall -Wextra -Werror -fopenmp -ffp-contract=off -MMD -MP
GIT_HASH := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
CPPFLAGS += -I. -D_POSIX_C_SOURCE=200809L -DXB_VERSION='"$(VERSION)"' -DXB_GIT_HASH='"$(GIT_HASH)"'
PKGS     := gsl inih libpng zlib cairo libcjson fontconfig
CPPFLAGS += $(shell pkg-config --cflags $(PKGS))
# OpenBLAS supplies cblas_*; GSL's own gslcblas is not linked. The OpenMP build of
# OpenBLAS is preferred (it shares our libgomp thread pool and runs serially inside our
# parallel regions); rpath pins it whatever the system alternative points to.
OBLAS_LIB:= $(firstword $(wildcard /usr/lib/*/openblas-openmp))
OBLAS_INC:= $(firstword $(wildcard /usr/include/*/openblas-openmp))
ifneq ($(OBLAS_LIB),)
LDLIBS   += -L$(OBLAS_LIB) -Wl,-rpath,$(OBLAS_LIB)
CPPFLAGS += -I$(OBLAS_INC)
endif
LDLIBS   += $(filter-out -lgslcblas,$(shell pkg-config --libs $(PKGS))) -lopenblas -lm
ifneq ($(SANITIZE),)
CFLAGS   += -O1 -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

LIBDIRS  := core devices crossbar training experiments calibration plots
SRC      := $(foreach d,$(LIBDIRS),$(wildcard $(d)/*.c))
CLI_SRC  := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/*.c)
BENCH_SRC:= $(wildcard bench/*.c)
HEADERS  := $(foreach d,$(LIBDIRS),$(wildcard $(d)/xb_*.h))

obj  = $(patsubst %.c,$(BUILD)/%.o,$(1))
link = $(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) $(1) -o $@

all: $(BUILD)/xbemu

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# Shipped configs are embedded in the library (experiments/xb_configs.h).
CONFIGS  := $(sort $(wildcard experiments/configs/*.ini))
$(BUILD)/gen/configs.c: $(CONFIGS) experiments/embed.sh
	@mkdir -p $(@D)
	sh experiments/embed.sh $(CONFIGS) > $@
$(BUILD)/gen/configs.o: $(BUILD)/gen/configs.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libxbemu.a: $(call obj,$(SRC)) $(BUILD)/gen/configs.o
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/xbemu: $(call obj,$(CLI_SRC)) $(BUILD)/libxbemu.a
	$(call link)

$(BUILD)/xbemu-tests: $(call obj,$(TEST_SRC)) $(BUILD)/libxbemu.a
	$(call link,-lcunit)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libxbemu.a
	$(call link)

# `make test` first makes sure packages and data are in place (./setup --no-run installs
# what is missing, as root); the suites run twice: results must not depend on threads.
test:
	@./setup --check >/dev/null || ./setup --no-run
	@$(MAKE) --no-print-directory test-run

test-run: $(BUILD)/xbemu-tests $(BUILD)/xbemu
	OMP_NUM_THREADS=1 $(BUILD)/xbemu-tests
	OMP_NUM_THREADS=4 $(BUILD)/xbemu-tests
	tests/cli.sh $(BUILD)/xbemu

check-asan:
	$(MAKE) SANITIZE=address,undefined test

BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
bench: $(BUILD)/xbemu $(BENCH_BIN)
	bench/run.sh $(BUILD)

TRAIN_BENCH_BIN := $(patsubst bench/train/%.c,$(BUILD)/bench/train/%,$(wildcard bench/train/*.c))
bench-train: $(BUILD)/xbemu $(TRAIN_BENCH_BIN)
	bench/train.sh $(BUILD)/xbemu

figures: $(BUILD)/xbemu
	bench/figures.sh $(BUILD)/xbemu

# libFuzzer needs clang; the fuzz build links the library sources directly.
FUZZ_CC    ?= clang
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -fopenmp=libgomp -I. \
              -D_POSIX_C_SOURCE=200809L -DXB_VERSION='"$(VERSION)"' -DXB_GIT_HASH='"fuzz"'
FUZZ_RUNS  ?= 100000
build/fuzz/%: tests/fuzz/%.c $(wildcard core/*.c core/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $< $(wildcard core/*.c) $(LDLIBS) -o $@
fuzz: build/fuzz/fuzz_ini build/fuzz/fuzz_idx build/fuzz/fuzz_csv build/fuzz/fuzz_calib_reader
	@mkdir -p build/fuzz/corpus_ini build/fuzz/corpus_idx build/fuzz/corpus_csv build/fuzz/corpus_calib
	build/fuzz/fuzz_ini -runs=$(FUZZ_RUNS) build/fuzz/corpus_ini tests/fuzz/seeds_ini
	build/fuzz/fuzz_idx -runs=$(FUZZ_RUNS) build/fuzz/corpus_idx tests/fuzz/seeds_idx
	build/fuzz/fuzz_csv -runs=$(FUZZ_RUNS) build/fuzz/corpus_csv tests/fuzz/seeds_csv
	build/fuzz/fuzz_calib_reader -runs=$(FUZZ_RUNS) build/fuzz/corpus_calib tests/fuzz/seeds_csv

install: $(BUILD)/xbemu $(BUILD)/libxbemu.a
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	           $(DESTDIR)$(PREFIX)/share/xbemu/configs
	install -m 755 $(BUILD)/xbemu $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(BUILD)/libxbemu.a $(DESTDIR)$(PREFIX)/lib/
	for h in $(HEADERS); do install -D -m 644 $$h $(DESTDIR)$(PREFIX)/include/xbemu/$$h; done
	cp -r experiments/configs/. $(DESTDIR)$(PREFIX)/share/xbemu/configs/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' xbemu.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/xbemu.pc

clean:
	rm -rf build

.PHONY: all test test-run check-asan bench bench-train figures fuzz install clean
.SECONDARY:
-include $(patsubst %.c,$(BUILD)/%.d,$(SRC) $(CLI_SRC) $(TEST_SRC) $(BENCH_SRC) $(wildcard bench/train/*.c))
