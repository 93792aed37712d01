# Thin wrapper for the README's two commands; meson does the building.
#   make demo   - the main job on built-in defaults
#   make check  - build everything and run every test (normal, ASan+UBSan, fuzz smoke, format)
#   make soak   - long campaigns: vh-blk kill storm under a QEMU guest, connection churn

MESON_OPTS ?= --buildtype=debugoptimized
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_S     ?= 3600
FUZZ_JOBS  ?= 1
SOAK_KILLS ?= 100
SOAK_CHURN ?= 1000

.PHONY: all deps build demo deb check check-format check-tests check-asan check-fuzz fuzz clean format soak

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS) --werror

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: build
	./scripts/demo.sh $(BUILD)

check-format:
	@files=$$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*'); \
	clang-format --dry-run --Werror $$files && echo "format: ok"
	@./scripts/check-kerneldoc.sh

check-tests: build
	meson test -C $(BUILD) --print-errorlogs --num-processes 2

$(ASAN_BUILD)/build.ninja:
	CC=clang meson setup $(ASAN_BUILD) --buildtype=debug --werror -Db_sanitize=address,undefined -Db_lundef=false

check-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  HOSTILE_CHURN=200 meson test -C $(ASAN_BUILD) --suite unit --suite loopback --suite tools \
	  --suite hostile --print-errorlogs --num-processes 2

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) --buildtype=debug -Dfuzz=true -Dtests=false \
	  -Db_sanitize=address,undefined -Db_lundef=false -Ddefault_library=static

check-fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	./fuzz/run-smoke.sh $(FUZZ_BUILD)

# The campaign (not part of check): FUZZ_S seconds per harness, corpora merged into fuzz/corpus/,
# reproducers and the report (fuzz-report.md) in $(FUZZ_BUILD).
fuzz: deps $(FUZZ_BUILD)/build.ninja
	meson setup --reconfigure $(FUZZ_BUILD) >/dev/null
	ninja -C $(FUZZ_BUILD)
	FUZZ_S=$(FUZZ_S) FUZZ_JOBS=$(FUZZ_JOBS) ./fuzz/run-campaign.sh $(FUZZ_BUILD)

check: deps check-format check-tests check-asan check-fuzz
	@./scripts/test-summary.sh $(BUILD)/meson-logs/testlog.json $(ASAN_BUILD)/meson-logs/testlog.json

# Debian packages (libvhost0, libvhost-dev, vhost-user-devices) from a copy of the tree, so the
# build leaves nothing behind; the .deb files and the lintian report land in $(DEB_BUILD)/.
DEB_BUILD ?= build-deb
deb: deps
	rm -rf $(DEB_BUILD) && mkdir -p $(DEB_BUILD)/libvhost
	git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t $(DEB_BUILD)/libvhost
	cd $(DEB_BUILD)/libvhost && dpkg-buildpackage -us -uc -b
	cd $(DEB_BUILD) && { lintian --fail-on error *.changes >lintian.txt; st=$$?; cat lintian.txt; exit $$st; }
	@ls -1 $(DEB_BUILD)/*.deb

# Kill storm (SOAK_KILLS SIGKILL + restart cycles of vh-blk under a QEMU guest's O_DIRECT
# writes), then SOAK_CHURN connection cycles against vh-blk and vh-net.
soak: build
	LIBVHOST_SRC=$(CURDIR) LIBVHOST_BUILD=$(CURDIR)/$(BUILD) KILLS=$(SOAK_KILLS) \
	  ./tests/interop/test_qemu_vhblk_reconnect.sh
	LIBVHOST_SRC=$(CURDIR) LIBVHOST_BUILD=$(CURDIR)/$(BUILD) HOSTILE_CHURN=$(SOAK_CHURN) \
	  ./$(BUILD)/tests/hostile/hostile_backend

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
