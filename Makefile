# clipbook — one Makefile for the engine, the figures, the report and the study.
#
#   make            build build/bin/clipbook and the libraries
#   make test       the whole suite (unit, integration, end to end)
#   make check-deps prove that an include against the rooms' direction fails (part of make test)
#   make bench      benchmarks against PyTorch / scikit-learn peers
#   make report     render the study (PROFILE=mini by default)
#   make clean
#
# Options: PROFILE=mini|smoke|paper|paper-fixture  DATA_DIR=dir (the paper data)  SANITIZE=1  CUDA=0|1  ARCH=native  V=1 (echo commands)
# Sources are found by wildcard: a new file in a room (engine/, engine/base/,
# kernels/cpu/, figures/, report/, lua/bind/, lua/notebook/, lua/cli/ and
# lua/cli/*/) or a new tests/<module>/test_*.c needs no edit here.

PROFILE  ?= mini
V        ?= 0
Q        := $(if $(filter 1,$(V)),,@)
SANITIZE ?= 0
ARCH     ?= native
# CUDA: on when nvcc (PATH, else /usr/local/cuda/bin) and cuBLAS's header are found.
ifeq ($(origin NVCC),undefined)
NVCC     := $(or $(shell command -v nvcc 2>/dev/null),$(wildcard /usr/local/cuda/bin/nvcc))
endif
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA     ?= $(if $(NVCC),$(if $(wildcard $(CUDA_HOME)/include/cublas_v2.h /usr/include/cublas_v2.h),1,0),0)

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
           python3-html5lib python3-pil python3-numpy

DEPS_STAMP := build/.deps-ok

# ---- flags ----------------------------------------------------------------
PKG_CFLAGS = $(shell pkg-config --cflags $(DEP_PC) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(DEP_PC) 2>/dev/null) -lcmark-gfm-extensions

CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -O2 -g -march=$(ARCH) -fopenmp \
               -Wall -Wextra -Werror -Wno-unused-parameter -MMD -MP
LDFLAGS_BASE := -fopenmp -lm -lpthread

# Each room is compiled with only the include paths it may use, so an
# include against  chapters -> notebook/CLI -> lua bindings -> {report,
# figures, engine} -> kernels  does not compile (make check-deps proves it).
INC_KERNELS  := -Ikernels -Ikernels/cpu
INC_BASE     := -Iengine/base
INC_ENGINE   := -Iengine $(INC_BASE) $(INC_KERNELS)
INC_FIGURES  := -Ifigures $(INC_BASE)
INC_REPORT   := -Ireport $(INC_FIGURES)
INC_BIND     := -Ilua/bind $(INC_ENGINE) $(INC_REPORT)
INC_NOTEBOOK := -Ilua/notebook $(INC_BIND)
INC_CLI      := -Ilua/cli -Ilua/cli/fetch $(INC_NOTEBOOK)
INC          := $(INC_CLI)
# and only the libraries' headers it may use: kernels and the engine see no
# Lua or cairo, figures and report no Lua or OpenBLAS (= so that pkg-config
# runs after `make deps` has installed what was missing)
PKG_KERNELS   = $(shell pkg-config --cflags openblas 2>/dev/null)
PKG_ENGINE    = $(shell pkg-config --cflags openblas libpng libcjson 2>/dev/null)
PKG_BASE      =
PKG_FIGURES   = $(shell pkg-config --cflags cairo pangocairo libcjson 2>/dev/null)
PKG_REPORT    = $(PKG_FIGURES)
PKG_BIND      = $(PKG_CFLAGS)
PKG_NOTEBOOK  = $(PKG_CFLAGS)
PKG           = $(PKG_CFLAGS)
$(BUILD)/obj/kernels/%.o:      INC = $(INC_KERNELS)
$(BUILD)/obj/kernels/%.o:      PKG = $(PKG_KERNELS)
$(BUILD)/obj/engine/%.o:       INC = $(INC_ENGINE)
$(BUILD)/obj/engine/%.o:       PKG = $(PKG_ENGINE)
$(BUILD)/obj/engine/base/%.o:  INC = $(INC_BASE)
$(BUILD)/obj/engine/base/%.o:  PKG = $(PKG_BASE)
$(BUILD)/obj/figures/%.o:      INC = $(INC_FIGURES)
$(BUILD)/obj/figures/%.o:      PKG = $(PKG_FIGURES)
$(BUILD)/obj/report/%.o:       INC = $(INC_REPORT)
$(BUILD)/obj/report/%.o:       PKG = $(PKG_REPORT)
$(BUILD)/obj/lua/bind/%.o:     INC = $(INC_BIND)
$(BUILD)/obj/lua/notebook/%.o: INC = $(INC_NOTEBOOK)
$(BUILD)/obj/lua/cli/%.o:      INC = $(INC_CLI)

ifeq ($(SANITIZE),1)
CFLAGS_BASE  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -O1
LDFLAGS_BASE += -fsanitize=address,undefined
endif

CFLAGS  = $(CFLAGS_BASE) $(INC) $(PKG) $(EXTRA_CFLAGS)
LDLIBS  = $(PKG_LIBS) $(LDFLAGS_BASE)

ENGINE_SRC := $(wildcard engine/*.c) $(wildcard kernels/cpu/*.c)
BASE_SRC   := $(wildcard engine/base/*.c)
FIG_SRC    := $(wildcard figures/*.c)
REPORT_SRC := $(wildcard report/*.c)
LUA_SRC    := $(wildcard lua/bind/*.c) $(wildcard lua/notebook/*.c)
CLI_SRC    := $(filter-out lua/cli/cli_main.c,$(wildcard lua/cli/*.c) $(wildcard lua/cli/*/*.c))

# The CUDA back end (kernels/cuda): machine code for Ampere (sm_80) and
# Hopper (sm_90) plus compute_90 PTX that newer chips JIT. cudart is linked
# statically and cuBLAS found through an rpath, so the binary starts on a
# machine with the toolkit but no GPU (no device: the CPU, silently).
CUDA_SRC   := $(if $(filter 1,$(CUDA)),$(wildcard kernels/cuda/*.cu))
ifneq ($(CUDA_SRC),)
CUDA_OBJ   := $(CUDA_SRC:%.cu=$(BUILD)/obj/%.o)
CFLAGS     += -DCB_CUDA=1
# cuBLAS is not linked: kernels/cuda opens it with dlopen once a device is
# found (linked, its libraries cost every process ~220 MB resident and 0.2 s
# at start-up, GPU or not); the soname is the build toolkit's.
CUBLAS_SONAME := $(or $(shell readelf -d $(CUDA_HOME)/lib64/libcublas.so 2>/dev/null | sed -n 's/.*soname: \[\(.*\)\]/\1/p'),libcublas.so)
LDLIBS     += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 \
              -lcudart_static -ldl -lrt -lstdc++
CUDA_ARCH  ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
              -gencode arch=compute_90,code=compute_90
NVCCFLAGS  ?= -O3 -std=c++17 $(CUDA_ARCH) $(INC_KERNELS) -Werror all-warnings \
              -Xcompiler -Wall,-Wextra,-Werror,-Wno-unused-parameter,-fPIC \
              -DKN_CUBLAS_SONAME='"$(CUBLAS_SONAME)"' -DKN_CUDA_LIBDIR='"$(CUDA_HOME)/lib64"'
endif

obj = $(1:%.c=$(BUILD)/obj/%.o)

# The shapes world must be bit-identical on every machine: no FMA contraction.
$(BUILD)/obj/engine/en_shapes.o: EXTRA_CFLAGS += -ffp-contract=off
# Winograd (kn_wino.c): -O3 unrolls the intrinsic transforms, ~5 % per layer (engine/NOTES.md).
$(BUILD)/obj/kernels/cpu/kn_wino.o: EXTRA_CFLAGS += -O3

# ---- the engine's code hash -------------------------------------------------
# SHA-256 over the path and content of every source of what computes the
# study's numbers: engine/, kernels/, the bindings (lua/bind) and the
# notebook (lua/notebook), sorted by path, so an added, moved or edited file
# changes it. The clipbook command and its downloader (lua/cli) and the
# typesetting (report/, figures/) compute no memoised result: editing them
# reruns nothing. It enters every memo key and `clipbook --version`
# (hence the $(DOC_DIR)/.engine stamp): a change to C code reruns what the
# engine computed. Recomputed on every make (find + sha256sum, ~1 MB), the
# generated file rewritten only when the hash changes. CODE_HASH_SALT mixes
# a word in, CODE_HASH_DIR moves the generated files: the tests build a
# "changed engine" that way (tests/e2e/memo_code_hash.sh); `make code-hash`
# prints it.
CODE_HASH_SALT ?=
CODE_HASH_DIR  ?= $(BUILD)/gen
CODE_HASH_C    := $(CODE_HASH_DIR)/en_code_hash.c
CODE_HASH_OBJ  := $(CODE_HASH_DIR)/en_code_hash.o
code_hash = $$( { printf '%s\n' '$(CODE_HASH_SALT)'; \
                  find engine kernels lua/bind lua/notebook -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' -o -name '*.lua' \) \
                    -exec sha256sum {} + | LC_ALL=C sort -k2; } | sha256sum | cut -c1-64 )

$(CODE_HASH_C): FORCE
	@mkdir -p $(@D); h=$(code_hash); \
	 printf '/* generated by the Makefile (CODE_HASH): engine/, kernels/, lua/bind, lua/notebook sources */\n#include "en_version.h"\nconst char *en_code_hash(void) { return "%s"; }\n' "$$h" > $@.new; \
	 if cmp -s $@.new $@; then rm -f $@.new; else mv $@.new $@; fi
$(CODE_HASH_OBJ): $(CODE_HASH_C) engine/en_version.h
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

.PHONY: code-hash
code-hash:
	@echo $(code_hash)

LIB_BASE    := $(BUILD)/lib/libcbbase.a
LIB_ENGINE  := $(BUILD)/lib/libcbengine.a
LIB_FIGURES := $(BUILD)/lib/libcbfigures.a
LIB_REPORT  := $(BUILD)/lib/libcbreport.a
LIB_LUA     := $(BUILD)/lib/libcblua.a
LIB_CLI     := $(BUILD)/lib/libcbcli.a
LIBS_ALL    := $(LIB_CLI) $(LIB_LUA) $(LIB_REPORT) $(LIB_FIGURES) $(LIB_ENGINE) $(LIB_BASE)
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
	 /usr/bin/python3 -c 'import numpy' 2>/dev/null || missing="$$missing python3-numpy"; \
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

$(BUILD)/obj/%.o: %.cu $(wildcard kernels/cuda/*.cuh) kernels/kn_backend.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  NVCC    $<")
	$(Q)$(NVCC) $(NVCCFLAGS) -c $< -o $@

$(LIB_BASE): $(call obj,$(BASE_SRC))
$(LIB_ENGINE): $(call obj,$(ENGINE_SRC)) $(CUDA_OBJ)
$(LIB_FIGURES): $(call obj,$(FIG_SRC))
$(LIB_REPORT): $(call obj,$(REPORT_SRC))
$(LIB_LUA): $(call obj,$(LUA_SRC))
$(LIB_CLI): $(call obj,$(CLI_SRC))
$(BUILD)/lib/%.a:
	@mkdir -p $(dir $@)
	@rm -f $@
	@$(if $(Q),echo "  AR      $@")
	$(Q)ar rcs $@ $^

$(CLIPBOOK): $(call obj,lua/cli/cli_main.c) $(CODE_HASH_OBJ) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# One Criterion binary per tests/<module>/ folder.
.SECONDEXPANSION:
$(BUILD)/tests/%: $$(call obj,$$(wildcard tests/%/*.c)) $(CODE_HASH_OBJ) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs $(DEP_PC_TEST) 2>/dev/null)

# make check-deps: a wrong-way include does not compile. For each room, one
# line including a header of a room (or library) it may not use is compiled
# with that room's flags and must fail, and one including a header of its
# own must pass (so that the failure is the include path's doing); no
# source may reach around the paths with a relative include.
# room:flags:own header:forbidden headers (comma-separated)
DEP_RULES := kernels:KERNELS:kn_backend.h:en_tensor.h,en_error.h,lua.h,cairo.h \
             base:BASE:en_error.h:en_tensor.h,kn_backend.h,fg.h,lua.h \
             engine:ENGINE:en_tensor.h:fg.h,rp_model.h,lx.h,nb_memo.h,cli_cmd.h,lua.h,cairo.h \
             figures:FIGURES:fg.h:en_tensor.h,kn_backend.h,rp_model.h,lx.h,lua.h \
             report:REPORT:rp_model.h:en_tensor.h,kn_backend.h,lx.h,nb_memo.h,cli_cmd.h,lua.h \
             bind:BIND:lx.h:nb_memo.h,nb.h,cli_cmd.h,cli_fetch.h \
             notebook:NOTEBOOK:nb_memo.h:cli_cmd.h,cli_fetch.h
DEP_CC = $(CC) $(filter-out -MMD -MP,$(CFLAGS_BASE)) -fsyntax-only -x c -
.PHONY: check-deps
check-deps: $(DEPS_STAMP)
	@n=0; $(foreach r,$(DEP_RULES),$(call check_room,$(subst :, ,$(r)))) \
	 bad=$$(grep -n '^ *# *include *"[^"]*/' $$(find engine kernels figures report lua -name '*.[ch]' -o -name '*.cu' -o -name '*.cuh') || true); \
	 cu=$$(grep -ln '^ *# *include *"en_' kernels/cuda/* 2>/dev/null || true); \
	 if [ -n "$$cu" ]; then echo "check-deps: kernels/cuda includes from engine/: $$cu"; exit 1; fi; \
	 if [ -n "$$bad" ]; then echo "check-deps: a path-qualified include goes around the rooms' include paths:"; echo "$$bad"; exit 1; fi; \
	 echo "check-deps: $$n wrong-way includes refused"
# $(1) room, $(2) flags suffix, $(3) own header, $(4) forbidden headers
check_room = $(call check_room_,$(word 1,$(1)),$(word 2,$(1)),$(word 3,$(1)),$(subst $(comma), ,$(word 4,$(1))))
check_room_ = \
	printf '\043include "%s"\n' $(3) | $(DEP_CC) $(INC_$(2)) $(PKG_$(2)) 2>/dev/null || \
	  { echo "check-deps: $(1) cannot include its own $(3)"; exit 1; }; \
	for h in $(4); do \
	  if printf '\043include "%s"\n' $$h | $(DEP_CC) $(INC_$(2)) $(PKG_$(2)) 2>/dev/null; then \
	    echo "check-deps: $(1)/ can include $$h, against the direction"; exit 1; fi; n=$$((n + 1)); \
	done;
comma := ,

test: $(DEPS_STAMP) $(CLIPBOOK) $(TEST_BINS) $$(FUZZ_TEST_DEPS)
	@BUILD=$(BUILD) CLIPBOOK=$(CLIPBOOK) SANITIZE=$(SANITIZE) \
	 FUZZ_DIR=$(FUZZ_DIR) FUZZ_OK=$(FUZZ_OK) FUZZ_SECONDS=$(FUZZ_TEST_SECONDS) FUZZ_TARGETS="$(FUZZ_TARGETS)" \
	 sh tests/run.sh $(TEST_BINS)

# One benchmark driver per tests/bench/*.c, linking every library.
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(wildcard tests/bench/*.c))
$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(CODE_HASH_OBJ) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

bench: $(DEPS_STAMP) $(CLIPBOOK) $(BENCH_BINS)
	@BUILD=$(BUILD) CLIPBOOK=$(CLIPBOOK) sh tests/bench/run.sh

# ---- the GPU machine's check program (tests/gpu/check.sh) -------------------
# make gpu-check: build/gpu/gpu_check, the parity tests of tests/cuda/
# (through a Criterion stand-in, tests/gpu/shim) and the GPU benchmarks.
# The GPU machines have the CUDA toolkit but none of Debian's -dev libraries,
# so it is built here: its own engine build for a portable x86-64-v3 CPU,
# OpenBLAS, OpenMP and libstdc++ linked statically, cuBLAS by rpath into
# $(CUDA_HOME)/lib64. Carry build/gpu to the GPU machine with the tree.
GPU_BUILD := build/gpu
GPU_CHECK := $(GPU_BUILD)/gpu_check
GPU_CHECK_SRC := tests/gpu/gpu_check.c tests/cuda/test_cuda.c tests/cuda/test_cuda_encoders.c \
                 tests/cuda/test_cuda_train.c
GPU_STATIC := $(firstword $(wildcard /usr/lib/x86_64-linux-gnu/libopenblas.a)) \
              $(shell $(CC) -print-file-name=libgomp.a)
.PHONY: gpu-check
gpu-check: $(DEPS_STAMP)
	@test -n "$(CUDA_SRC)" || { echo "gpu-check: needs the CUDA back end (nvcc + cuBLAS; CUDA=$(CUDA))"; exit 1; }
	@$(MAKE) --no-print-directory BUILD=$(GPU_BUILD) ARCH=x86-64-v3 SANITIZE=0 \
	   $(GPU_BUILD)/lib/libcbengine.a $(GPU_BUILD)/lib/libcbbase.a
	@$(MAKE) --no-print-directory $(GPU_CHECK)
$(GPU_CHECK): $(GPU_CHECK_SRC) tests/gpu/shim/criterion/criterion.h tests/cuda/cu_util.h \
              tests/kernels/kt_util.h $(GPU_BUILD)/lib/libcbengine.a $(GPU_BUILD)/lib/libcbbase.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE -O2 -g -march=x86-64-v3 -Wall -Wextra -Werror -Wno-unused-parameter \
	   -Itests/gpu/shim $(INC_ENGINE) -o $@ $(GPU_CHECK_SRC) $(GPU_BUILD)/lib/libcbengine.a \
	   $(GPU_BUILD)/lib/libcbbase.a $(GPU_STATIC) -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 \
	   -lcudart_static -static-libgcc -Wl,-Bstatic -lstdc++ -Wl,-Bdynamic \
	   -ldl -lrt -lpthread -lm -s

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
# chapter, lua/*.lua, the profiles file, the profile or the engine (its
# version or its code hash, both in `clipbook --version`) changed (the two
# stamps below change content only when those do). A failed chapter keeps
# its fragment (with the error block) and leaves DOC_DIR/NAME.failed, which
# makes the next `make report` rerun it; the other chapters still run (-k).
# The report runs in two passes: the chapters, then the conclusion and the
# appendix (09, 10), which summarise the fragments there are and list the
# chapters that failed; the second pass never reruns a chapter of the first
# (NO_RETRY), so 09 and 10 run whatever happened before. Each profile has its
# own DOC_DIR, so no fragment of one profile enters another's report.
# DATA_DIR reaches the chapters (chapters/study.lua reads data/ paths there).
CHAPTERS_DIR ?= chapters
DOC_DIR      ?= build/$(PROFILE)/doc
REPORT_DIR   ?= build/report
CHAPTERS     := $(sort $(wildcard $(CHAPTERS_DIR)/[0-9]*.lua))
DOCS         := $(CHAPTERS:$(CHAPTERS_DIR)/%.lua=$(DOC_DIR)/%.json)
CHAPTER_DEPS := $(wildcard lua/notebook/*.lua) $(wildcard $(CHAPTERS_DIR)/profiles.lua) $(wildcard $(CHAPTERS_DIR)/study.lua)
# the conclusion and the appendix summarise the other chapters' fragments:
# in the second pass (SUMMARY_PASS=1) those that exist
SUMMARY_DOCS := $(filter $(DOC_DIR)/09-% $(DOC_DIR)/10-%,$(DOCS))
BODY_DOCS    := $(filter-out $(SUMMARY_DOCS),$(DOCS))
$(SUMMARY_DOCS): $(if $(SUMMARY_PASS),$(wildcard $(BODY_DOCS)),$(BODY_DOCS))
$(filter $(DOC_DIR)/10-%,$(DOCS)): $(filter $(DOC_DIR)/09-%,$(DOCS))
NO_RETRY ?=

.PHONY: docs watch FORCE
FORCE:

$(DOC_DIR)/.profile: FORCE
	@mkdir -p $(@D); echo "$(PROFILE)" | cmp -s - $@ || echo "$(PROFILE)" > $@
$(DOC_DIR)/.engine: FORCE | $(CLIPBOOK)
	@mkdir -p $(@D); $(CLIPBOOK) --version | cmp -s - $@ || $(CLIPBOOK) --version > $@
# What DATA_DIR holds, by path, size, mtime and ctime (a file rewritten with
# its mtime set back still moves its ctime): a fragment is remade when its
# data changes, and inside the chapter the memo store reruns only what read
# the changed file (keys by content: chapters/study.lua). MANIFEST.lock and
# dot-files are the fetch's own bookkeeping, *.part and *.tmp.* unfinished.
$(DOC_DIR)/.data: FORCE
	@mkdir -p $(@D); { [ ! -d "$(DATA_DIR)" ] || find -L "$(DATA_DIR)" -type f ! -name '.*' ! -name MANIFEST.lock \
	   ! -name '*.part' ! -name '*.tmp.*' -printf '%P %s %T@ %C@\n' | LC_ALL=C sort; } > $@.new; \
	 if cmp -s $@.new $@; then rm -f $@.new; else mv $@.new $@; fi

$(DOC_DIR)/%.json: $(CHAPTERS_DIR)/%.lua $(CHAPTER_DEPS) $(DOC_DIR)/.profile $(DOC_DIR)/.engine $(DOC_DIR)/.data \
                   $$(if $$(filter $$@,$$(NO_RETRY)),,$$(if $$(wildcard $$(basename $$@).failed),FORCE)) | $(CLIPBOOK)
	@CLIPBOOK_DOC_DIR=$(DOC_DIR) DATA_DIR=$(DATA_DIR) $(CLIPBOOK) run $< --profile $(PROFILE) --out $@ \
	   --of "$$(echo $(CHAPTERS) | tr ' ' '\n' | grep -nxF '$<' | cut -d: -f1)/$(words $(CHAPTERS))" \
	 && rm -f $(@:.json=.failed) || { touch $(@:.json=.failed); exit 1; }

docs: $(DOCS)

report: $(DEPS_STAMP) $(CLIPBOOK)
	@rc=0; $(MAKE) --no-print-directory -k $(BODY_DOCS) || rc=1; \
	 $(MAKE) --no-print-directory -k $(SUMMARY_DOCS) SUMMARY_PASS=1 NO_RETRY="$(BODY_DOCS)" || rc=1; \
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
	@$(CLIPBOOK) watch --cmd "$(MAKE) --no-print-directory report PROFILE=$(PROFILE) DATA_DIR=$(DATA_DIR)" \
	   --pdf $(REPORT_DIR)/report.pdf $(CHAPTERS_DIR) lua/notebook

# make fuzz: libFuzzer targets for every reader and parser a user can feed
# (tests/fuzz/fuzz_*.c: npy, safetensors, images, CIFAR, BPE vocabularies,
# chapters, Markdown + math, fragments, figure specs), built with clang +
# ASan/UBSan into build/fuzz/ (one build for SANITIZE=0 and 1) and run one
# after the other for FUZZ_SECONDS each; new inputs go to
# build/fuzz/corpus/<target>/, the committed seeds (tests/fuzz/corpus/)
# stay read-only. `make test` runs each for FUZZ_TEST_SECONDS when clang and
# libFuzzer are there, and says "skip: fuzz" otherwise.
FUZZ_SECONDS      ?= 60
FUZZ_TEST_SECONDS ?= 3
FUZZ_CC      ?= clang
FUZZ_APT     := clang libclang-rt-14-dev
FUZZ_DIR     := build/fuzz
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%)
FUZZ_OK      := $(shell command -v $(FUZZ_CC) >/dev/null 2>&1 && \
                  test -e "$$($(FUZZ_CC) -print-resource-dir 2>/dev/null)/lib/linux/libclang_rt.fuzzer-x86_64.a" && echo 1)
# What the targets link: the readers and what they call (an archive, so a
# target pulls in only the objects it needs), instrumented for coverage.
FUZZ_SRC     := $(wildcard engine/base/*.c engine/en_dtype.c engine/en_ndbuf.c \
                  engine/en_safetensors.c engine/en_npy.c engine/en_image.c engine/en_cifar.c \
                  engine/en_bpe.c engine/en_unicode.c engine/en_unicode_data.c engine/en_pets.c engine/en_preprocess.c) \
                $(REPORT_SRC) $(FIG_SRC) lua/notebook/nb_chapter.c
FUZZ_PC      := libcjson libpng libjpeg zlib cairo pangocairo libcmark-gfm
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -march=$(ARCH) -g -O1 \
                -fno-omit-frame-pointer $(FUZZ_SAN) -I. -Iengine -Iengine/base -Ikernels -Ifigures -Ireport -Ilua/notebook \
                $(shell pkg-config --cflags $(FUZZ_PC) 2>/dev/null)
FUZZ_LIBS    := $(shell pkg-config --libs $(FUZZ_PC) 2>/dev/null) -lcmark-gfm-extensions -lm

$(FUZZ_DIR)/.deps-ok:
	@if [ -z "$(FUZZ_OK)" ]; then \
	   if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	     DEBIAN_FRONTEND=noninteractive apt-get update -q && apt-get install -y -q --no-install-recommends $(FUZZ_APT) || exit 1; \
	   else echo "fuzz: run:  sudo apt-get install -y $(FUZZ_APT)"; exit 1; fi; \
	 fi
	@mkdir -p $(dir $@) && touch $@

$(FUZZ_DIR)/obj/%.o: %.c | $(DEPS_STAMP) $(FUZZ_DIR)/.deps-ok
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_DIR)/libfuzzdeps.a: $(FUZZ_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_DIR)/libfuzzdeps.a | $(FUZZ_DIR)/.deps-ok
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_DIR)/libfuzzdeps.a $(FUZZ_LIBS)

fuzz: $(FUZZ_BINS)
	@FUZZ_DIR=$(FUZZ_DIR) sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# the short run inside `make test` (tests/run.sh calls it)
FUZZ_TEST_DEPS := $(if $(FUZZ_OK),$(FUZZ_BINS))

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)

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

# Chapter 2 shows the caption-factor sweep that tests/world/sweep.lua wrote.
$(filter $(DOC_DIR)/02-%,$(DOCS)): $(wildcard $(CHAPTERS_DIR)/world.json)
