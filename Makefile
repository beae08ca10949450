# clipbook — one Makefile for the engine, the figures, the report and the study.
#
#   make            build build/bin/clipbook and the libraries
#   make test       the whole suite (unit, integration, end to end)
#   make bench      benchmarks against PyTorch / scikit-learn peers
#   make report     render the study (PROFILE=mini by default)
#   make clean
#
# Options: PROFILE=mini|smoke|paper  SANITIZE=1  CUDA=0|1  ARCH=native  V=1 (echo commands)
# Sources are found by wildcard: a new engine/, kernels/, figures/, report/
# or lua/ file, or a new tests/<module>/test_*.c, needs no edit here.

PROFILE  ?= mini
V        ?= 0
Q        := $(if $(filter 1,$(V)),,@)
SANITIZE ?= 0
ARCH     ?= native
CUDA     ?= $(shell command -v nvcc >/dev/null 2>&1 && test -e /usr/local/cuda/include/cublas_v2.h -o -e /usr/include/cublas_v2.h && echo 1 || echo 0)

ifeq ($(SANITIZE),1)
BUILD ?= build/asan
else
BUILD ?= build
endif

# ---- dependencies ---------------------------------------------------------
# pkg-config name  ->  Debian package that provides it
DEP_PC  := lua5.4 openblas cairo pangocairo libpng zlib libjpeg libcjson libcmark-gfm libcurl
DEP_PC_TEST := criterion
DEP_APT := pkg-config liblua5.4-dev libopenblas-dev libcairo2-dev libpango1.0-dev \
           libpng-dev zlib1g-dev libjpeg62-turbo-dev libcjson-dev libcmark-gfm-dev \
           libcmark-gfm-extensions-dev libcriterion-dev libcurl4-openssl-dev \
           fonts-texgyre fonts-texgyre-math fonts-dejavu-core poppler-utils qpdf \
           python3-html5lib python3-pil

DEPS_STAMP := build/.deps-ok

# ---- flags ----------------------------------------------------------------
PKG_CFLAGS = $(shell pkg-config --cflags $(DEP_PC) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(DEP_PC) 2>/dev/null) -lcmark-gfm-extensions

CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -O2 -g -march=$(ARCH) -fopenmp \
               -Wall -Wextra -Werror -Wno-unused-parameter -MMD -MP \
               -I. -Iengine -Ikernels -Ikernels/cpu -Ifigures -Ireport -Ilua
LDFLAGS_BASE := -fopenmp -lm -lpthread

ifeq ($(SANITIZE),1)
CFLAGS_BASE  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -O1
LDFLAGS_BASE += -fsanitize=address,undefined
endif

CFLAGS  = $(CFLAGS_BASE) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS  = $(PKG_LIBS) $(LDFLAGS_BASE)

ENGINE_SRC := $(wildcard engine/*.c) $(wildcard kernels/cpu/*.c)
FIG_SRC    := $(wildcard figures/*.c)
REPORT_SRC := $(filter-out report/rp_main.c,$(wildcard report/*.c))
LUA_SRC    := $(wildcard lua/*.c)

CUDA_SRC   := $(if $(filter 1,$(CUDA)),$(wildcard kernels/cuda/*.cu))
ifneq ($(CUDA_SRC),)
CUDA_OBJ   := $(CUDA_SRC:%.cu=$(BUILD)/obj/%.o)
CFLAGS     += -DCB_CUDA=1
LDLIBS     += -L/usr/local/cuda/lib64 -lcudart -lcublas -lstdc++
NVCCFLAGS  ?= -O2 -std=c++17 -Iengine -Ikernels -Xcompiler -fPIC
endif

obj = $(1:%.c=$(BUILD)/obj/%.o)

# The shapes world must be bit-identical on every machine: no FMA contraction.
$(BUILD)/obj/engine/en_shapes.o: EXTRA_CFLAGS += -ffp-contract=off
# Winograd (kn_wino.c): -O3 unrolls the intrinsic transforms, ~5 % per layer (engine/NOTES.md).
$(BUILD)/obj/kernels/cpu/kn_wino.o: EXTRA_CFLAGS += -O3

LIB_ENGINE  := $(BUILD)/lib/libcbengine.a
LIB_FIGURES := $(BUILD)/lib/libcbfigures.a
LIB_REPORT  := $(BUILD)/lib/libcbreport.a
LIB_LUA     := $(BUILD)/lib/libcblua.a
LIBS_ALL    := $(LIB_LUA) $(LIB_REPORT) $(LIB_FIGURES) $(LIB_ENGINE)
CLIPBOOK    := $(BUILD)/bin/clipbook

TEST_MODS := $(sort $(patsubst tests/%/,%,$(dir $(wildcard tests/*/test_*.c))))
TEST_BINS := $(TEST_MODS:%=$(BUILD)/tests/%)

.PHONY: all deps test bench report clean fuzz data
.SECONDARY:
.DEFAULT_GOAL := all

all: $(DEPS_STAMP) $(CLIPBOOK)

# make deps: find every library with pkg-config; as root on Debian install
# what is missing, otherwise print the exact command and stop.
deps: $(DEPS_STAMP)
$(DEPS_STAMP): Makefile
	@missing=""; for p in $(DEP_PC) $(DEP_PC_TEST); do pkg-config --exists $$p 2>/dev/null || missing="$$missing $$p"; done; \
	 fc-list : family 2>/dev/null | grep -q 'TeX Gyre Pagella' || missing="$$missing fonts-texgyre"; \
	 fc-list : family 2>/dev/null | grep -q 'TeX Gyre Pagella Math' || missing="$$missing fonts-texgyre-math"; \
	 fc-list : family 2>/dev/null | grep -q 'DejaVu Sans Mono' || missing="$$missing fonts-dejavu-core"; \
	 command -v pdftotext >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	 command -v qpdf >/dev/null 2>&1 || missing="$$missing qpdf"; \
	 if [ -n "$$missing" ]; then \
	   echo "deps: missing:$$missing"; \
	   if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	     echo "deps: installing with apt-get"; \
	     export DEBIAN_FRONTEND=noninteractive; \
	     apt-get update -q && apt-get install -y -q --no-install-recommends $(DEP_APT) || exit 1; \
	   else \
	     echo "deps: run:  sudo apt-get update && sudo apt-get install -y $(DEP_APT)"; exit 1; \
	   fi; \
	 fi
	@mkdir -p $(dir $@) && touch $@

$(BUILD)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cu
	@mkdir -p $(dir $@)
	nvcc $(NVCCFLAGS) -c $< -o $@

$(LIB_ENGINE): $(call obj,$(ENGINE_SRC)) $(CUDA_OBJ)
$(LIB_FIGURES): $(call obj,$(FIG_SRC))
$(LIB_REPORT): $(call obj,$(REPORT_SRC))
$(LIB_LUA): $(call obj,$(LUA_SRC))
$(BUILD)/lib/%.a:
	@mkdir -p $(dir $@)
	@rm -f $@
	@$(if $(Q),echo "  AR      $@")
	$(Q)ar rcs $@ $^

$(CLIPBOOK): $(call obj,report/rp_main.c) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# One Criterion binary per tests/<module>/ folder.
.SECONDEXPANSION:
$(BUILD)/tests/%: $$(call obj,$$(wildcard tests/%/*.c)) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs $(DEP_PC_TEST) 2>/dev/null)

test: $(DEPS_STAMP) $(CLIPBOOK) $(TEST_BINS)
	@BUILD=$(BUILD) CLIPBOOK=$(CLIPBOOK) SANITIZE=$(SANITIZE) sh tests/run.sh $(TEST_BINS)

# One benchmark driver per tests/bench/*.c, linking every library.
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(wildcard tests/bench/*.c))
$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(LIBS_ALL)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

bench: $(DEPS_STAMP) $(CLIPBOOK) $(BENCH_BINS)
	@BUILD=$(BUILD) CLIPBOOK=$(CLIPBOOK) sh tests/bench/run.sh

# ---- the paper profile's data ---------------------------------------------
# make data: CIFAR-100, OpenAI's BPE vocabulary and the ViT-B/32 and RN50
# checkpoints into $(DATA_DIR) (about 1.4 GB), verified; what is there is kept.
# FETCH_ARGS passes options on (e.g. "--only bpe", "--base-url URL").
DATA_DIR ?= data
data: $(DEPS_STAMP) $(CLIPBOOK)
	$(CLIPBOOK) fetch --dir $(DATA_DIR) $(FETCH_ARGS)

# ---- the report -----------------------------------------------------------
# One `clipbook run` per chapter (parallel with -jN) into $(DOC_DIR), then the
# merged results and `clipbook render`. A fragment is remade only when its
# chapter, lua/*.lua, the profiles file, the profile or the engine version
# changed (the two stamps below change content only when those do). A failed
# chapter keeps its fragment (with the error block) but is dated 1970 so the
# next `make report` reruns it; the other chapters still run (-k).
CHAPTERS_DIR ?= chapters
DOC_DIR      ?= build/doc
REPORT_DIR   ?= build/report
CHAPTERS     := $(sort $(wildcard $(CHAPTERS_DIR)/[0-9]*.lua))
DOCS         := $(CHAPTERS:$(CHAPTERS_DIR)/%.lua=$(DOC_DIR)/%.json)
CHAPTER_DEPS := $(wildcard lua/*.lua) $(wildcard $(CHAPTERS_DIR)/profiles.lua) $(wildcard $(CHAPTERS_DIR)/study.lua)
# the conclusion and the appendix summarise the other chapters' fragments
SUMMARY_DOCS := $(filter $(DOC_DIR)/09-% $(DOC_DIR)/10-%,$(DOCS))
$(SUMMARY_DOCS): $(filter-out $(SUMMARY_DOCS),$(DOCS))
$(filter $(DOC_DIR)/10-%,$(DOCS)): $(filter $(DOC_DIR)/09-%,$(DOCS))

.PHONY: docs watch FORCE
FORCE:

$(DOC_DIR)/.profile: FORCE
	@mkdir -p $(@D); echo "$(PROFILE)" | cmp -s - $@ || echo "$(PROFILE)" > $@
$(DOC_DIR)/.engine: FORCE | $(CLIPBOOK)
	@mkdir -p $(@D); $(CLIPBOOK) --version | cmp -s - $@ || $(CLIPBOOK) --version > $@

$(DOC_DIR)/%.json: $(CHAPTERS_DIR)/%.lua $(CHAPTER_DEPS) $(DOC_DIR)/.profile $(DOC_DIR)/.engine | $(CLIPBOOK)
	@CLIPBOOK_DOC_DIR=$(DOC_DIR) $(CLIPBOOK) run $< --profile $(PROFILE) --out $@ \
	   --of "$$(echo $(CHAPTERS) | tr ' ' '\n' | grep -nxF '$<' | cut -d: -f1)/$(words $(CHAPTERS))" \
	 || { touch -c -d @0 $@ 2>/dev/null; exit 1; }

docs: $(DOCS)

report: $(DEPS_STAMP) $(CLIPBOOK)
	@rc=0; $(MAKE) --no-print-directory -k docs || rc=1; \
	 $(CLIPBOOK) results $(DOCS) --out $(REPORT_DIR)/results.json || rc=1; \
	 if [ -z "$(DOCS)" ]; then echo "report: no chapters in $(CHAPTERS_DIR)/"; \
	 elif $(CLIPBOOK) help | grep -q '^  render '; then \
	   $(CLIPBOOK) render $(DOCS) --out $(REPORT_DIR)/ \
	     $(if $(wildcard $(CHAPTERS_DIR)/meta.json),--meta $(CHAPTERS_DIR)/meta.json) || rc=1; \
	   [ $$rc = 0 ] && echo "report: $(REPORT_DIR)/report.pdf"; \
	 else echo "report: 'clipbook render' is not built yet; the fragments are in $(DOC_DIR)/"; fi; \
	 [ $$rc = 0 ] || echo "report: some chapters failed (error blocks in their fragments)"; \
	 exit $$rc

# Rerun what changed and re-render on every save (inotify); Ctrl-C stops.
watch: $(DEPS_STAMP) $(CLIPBOOK)
	@$(CLIPBOOK) watch --cmd "$(MAKE) --no-print-directory report PROFILE=$(PROFILE)" \
	   --pdf $(REPORT_DIR)/report.pdf $(CHAPTERS_DIR) lua

# make fuzz: libFuzzer targets for the file-format readers (tests/fuzz/fuzz_*.c,
# never part of `make test`), built with clang + ASan/UBSan into $(BUILD)/fuzz/
# and run one after the other for FUZZ_SECONDS each; new inputs go to
# $(BUILD)/fuzz/corpus/<target>/, the committed seeds stay read-only.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_APT     := clang libclang-rt-14-dev
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_ENGINE  := $(wildcard engine/en_error.c engine/en_dtype.c engine/en_ndbuf.c engine/en_safetensors.c \
                  engine/en_npy.c engine/en_image.c engine/en_cifar.c)
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -march=$(ARCH) -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=undefined -Iengine $(shell pkg-config --cflags libcjson libpng libjpeg 2>/dev/null)
FUZZ_LIBS    := $(shell pkg-config --libs libcjson libpng libjpeg 2>/dev/null) -lm

$(BUILD)/fuzz/.deps-ok:
	@if ! command -v $(FUZZ_CC) >/dev/null 2>&1 || \
	    ! test -e "$$($(FUZZ_CC) -print-resource-dir 2>/dev/null)/lib/linux/libclang_rt.fuzzer-x86_64.a"; then \
	   if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	     DEBIAN_FRONTEND=noninteractive apt-get update -q && apt-get install -y -q --no-install-recommends $(FUZZ_APT) || exit 1; \
	   else echo "fuzz: run:  sudo apt-get install -y $(FUZZ_APT)"; exit 1; fi; \
	 fi
	@mkdir -p $(dir $@) && touch $@

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_ENGINE) engine/*.h | $(DEPS_STAMP) $(BUILD)/fuzz/.deps-ok
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_ENGINE) $(FUZZ_LIBS)

fuzz: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)
	@for t in $(FUZZ_TARGETS); do \
	   mkdir -p $(BUILD)/fuzz/corpus/$$t tests/fuzz/corpus/$$t; \
	   dict=; [ -e tests/fuzz/$$t.dict ] && dict=-dict=tests/fuzz/$$t.dict; \
	   echo "== $$t ($(FUZZ_SECONDS) s)"; \
	   $(BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -print_final_stats=1 $$dict \
	     -artifact_prefix=$(BUILD)/fuzz/$$t- $(BUILD)/fuzz/corpus/$$t tests/fuzz/corpus/$$t || exit 1; \
	 done

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- the suite under every compute path -------------------------------------
# make test-matrix: tests/run.sh once per {CLIPBOOK_GEMM=engine,blas} x
# {1, 2 threads} x {OPENBLAS_CORETYPE=Haswell, SkylakeX, Prescott}, then a
# table (tests/matrix.sh; MATRIX_GEMM/MATRIX_THREADS/MATRIX_CORES narrow it).
.PHONY: test-matrix
test-matrix: $(DEPS_STAMP) $(CLIPBOOK) $(TEST_BINS)
	@BUILD=$(BUILD) CLIPBOOK=$(CLIPBOOK) SANITIZE=$(SANITIZE) sh tests/matrix.sh $(TEST_BINS)

# The chapters whose verdicts take their margins from the measured spread
# of results between compute configurations (tests/spread.py writes it).
SPREAD_DEPS := $(wildcard $(CHAPTERS_DIR)/spread.json $(CHAPTERS_DIR)/spread.lua)
$(filter $(DOC_DIR)/05-% $(DOC_DIR)/06-% $(DOC_DIR)/08-% $(DOC_DIR)/09-% $(DOC_DIR)/10-%,$(DOCS)): $(SPREAD_DEPS)
