/* fontconfig keeps its caches (patterns, charsets) until exit on purpose;
 * LeakSanitizer reports them from every test that lays out text. Only
 * these library-internal allocations are suppressed. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libfontconfig.so\n"; }
