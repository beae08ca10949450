/* cli_fetch: the manifest parser, URL overrides, the lock file, the hashes
 * (known-answer tests), the tar reader, and how download failures are
 * classified. The downloads themselves: tests/e2e/fetch.sh. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "en_error.h"
#include "cli_fetch.h"

static char tmpdir[256];

static void setup(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cb_fetch_test_XXXXXX");
    cr_assert(mkdtemp(tmpdir));
}

static void teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(fetch, .init = setup, .fini = teardown);

/* ---- manifest ---- */

Test(fetch, builtin_manifest_parses) {
    cli_fetch_item *v;
    int n;
    cr_assert_eq(cli_fetch_manifest_parse(cli_fetch_manifest_builtin(), "builtin", &v, &n), 0, "%s", en_error_msg());
    cr_assert_eq(n, 6);
    const char *names[] = {"cifar100", "bpe", "vit-b-32", "rn50"};
    for (int i = 0; i < 4; i++) {
        cr_expect_str_eq(v[i].name, names[i]);
        cr_expect(v[i].check[0], "%s has a content check", names[i]);
        cr_expect(!strncmp(v[i].urls[0], "https://", 8));
    }
    cr_expect_eq(v[0].size, 168513733);
    cr_expect_str_eq(v[0].md5, "03b5dce01913d631647c71ecec9e9cb8");
    cr_expect_str_eq(v[0].sha256, "", "unknown stays unknown");
    cr_expect_eq(v[0].n_members, 4);
    cr_expect_str_eq(v[0].extract_dir, "cifar-100-binary");
    cr_expect_eq(v[1].n_urls, 2, "the vocabulary has a mirror");
    cr_expect_eq(strlen(v[1].sha256), 64);
    cr_expect_eq(v[2].size, -1);
    cr_expect_eq(v[2].approx, 606000000);
    /* the Pet set: two whole folders into oxford-iiit-pet/, annotations first */
    cr_expect_str_eq(v[4].name, "pets-annotations");
    cr_expect_str_eq(v[5].name, "pets-images");
    cr_expect_str_eq(v[4].tree_from, "annotations");
    cr_expect_str_eq(v[4].tree_into, "oxford-iiit-pet/annotations");
    cr_expect_str_eq(v[5].tree_into, "oxford-iiit-pet/images");
    cr_expect_eq(v[5].size, 791918971);
    cr_expect_str_eq(v[5].md5, "5c4f3ee8e5d25df40f4fd59a7f44e54c");
    cr_expect(strstr(v[5].check, "pets oxford-iiit-pet trainval=3680 test=3669"), "%s", v[5].check);
    for (int i = 4; i < 6; i++) cr_expect_eq(v[i].n_urls, 2, "%s has a mirror", v[i].name);
    free(v);
}

static void expect_error(const char *text, const char *needle) {
    cli_fetch_item *v = (cli_fetch_item *)1;
    int n = 7;
    cr_assert_eq(cli_fetch_manifest_parse(text, "m", &v, &n), -1, "accepted: %s", text);
    cr_expect_null(v);
    cr_expect_eq(n, 0);
    cr_expect(strstr(en_error_msg(), needle), "'%s' should contain '%s'", en_error_msg(), needle);
}

Test(fetch, manifest_errors_name_the_line) {
    expect_error("[a]\nfile f\nurl http://x/f\nsize 12x\n", "m:4: size '12x'");
    expect_error("[a]\nfile f\nurl http://x/f\nsha256 abc\n", "m:4: sha256 must be 64 hex digits");
    expect_error("[a]\nfile f\nurl http://x/f\nmd5 unknown\ncolour blue\n", "m:5: unknown key 'colour'");
    expect_error("file f\n", "m:1: expected [name] first");
    expect_error("[a]\nfile f\nurl http://x/f\ntree images\n", "m:4: tree FROM INTO");
    expect_error("[a]\nfile f\nurl http://x/f\ntree images ../up\n", "m:4: tree folders must stay inside");
    expect_error("[a]\nfile f\nurl http://x/f\ntree images pets/images\nextract d m\n", "[a] has both extract and tree");
    expect_error("[a]\nurl http://x/f\n", "[a] has no file");
    expect_error("[a]\nfile f\n", "[a] has no url");
    expect_error("[a]\nfile ../f\nurl u\n", "inside the data folder");
    expect_error("[a]\nfile f\nurl u\nextract ../d m\n", "inside the data folder");
    expect_error("[a]\nfile f\nurl u\nextract d a/b\n", "a name, not a path");
    expect_error("[a]\nfile f\nurl u\n[a]\nfile g\nurl v\n", "m:4: [a] twice");
    expect_error("[a b]\n", "letters, digits");
    expect_error("# nothing\n", "no artifacts");
    expect_error("[a]\nfile\n", "m:2: file needs a value");
}

Test(fetch, manifest_fields) {
    const char *t = "# c\n[x-1]   # trailing comment\n title  T  \nfile d/f.bin\nurl http://a/f\nurl http://b/f\n"
                    "size 3K\napprox 2G\nsha256 " "AB" "00000000000000000000000000000000000000000000000000000000000000" "\n"
                    "extract top m1 m2\ncheck clip vit=1\n";
    cli_fetch_item *v;
    int n;
    cr_assert_eq(cli_fetch_manifest_parse(t, "m", &v, &n), 0, "%s", en_error_msg());
    cr_assert_eq(n, 1);
    cr_expect_str_eq(v[0].name, "x-1");
    cr_expect_str_eq(v[0].title, "T");
    cr_expect_str_eq(v[0].file, "d/f.bin");
    cr_expect_eq(v[0].n_urls, 2);
    cr_expect_str_eq(v[0].urls[1], "http://b/f");
    cr_expect_eq(v[0].size, 3000);
    cr_expect_eq(v[0].approx, 2000000000LL);
    cr_expect_eq(strncmp(v[0].sha256, "ab00", 4), 0, "hex is lower-cased: %s", v[0].sha256);
    cr_expect_eq(v[0].n_members, 2);
    cr_expect_str_eq(v[0].members[1], "m2");
    cr_expect_str_eq(v[0].check, "clip vit=1");
    free(v);
}

/* ---- URLs ---- */

Test(fetch, url_overrides) {
    cli_fetch_item v[1];
    int n;
    cli_fetch_item *p;
    cr_assert_eq(cli_fetch_manifest_parse("[vit-b-32]\nfile m.st\nurl https://huggingface.co/r/resolve/main/x\nurl http://other/x\n",
                                         "m", &p, &n), 0);
    unsetenv("CLIPBOOK_DATA_URL_VIT_B_32");
    setenv("HF_ENDPOINT", "http://mirror.example/", 1);
    v[0] = p[0];
    cli_fetch_item_urls(&v[0], NULL);
    cr_expect_str_eq(v[0].urls[0], "http://mirror.example/r/resolve/main/x");
    cr_expect_str_eq(v[0].urls[1], "http://other/x", "only hub URLs move");
    unsetenv("HF_ENDPOINT");
    v[0] = p[0];
    cli_fetch_item_urls(&v[0], "http://127.0.0.1:8/base");
    cr_expect_eq(v[0].n_urls, 1);
    cr_expect_str_eq(v[0].urls[0], "http://127.0.0.1:8/base/m.st");
    setenv("CLIPBOOK_DATA_URL_VIT_B_32", "http://x/y", 1);
    v[0] = p[0];
    cli_fetch_item_urls(&v[0], "http://ignored/");
    cr_expect_eq(v[0].n_urls, 1);
    cr_expect_str_eq(v[0].urls[0], "http://x/y", "the variable wins over --base-url");
    unsetenv("CLIPBOOK_DATA_URL_VIT_B_32");
    free(p);
}

Test(fetch, url_host) {
    char h[64];
    struct { const char *url, *host; } c[] = {
        {"https://www.cs.toronto.edu/~kriz/x.tar.gz", "www.cs.toronto.edu"},
        {"http://127.0.0.1:8080/a", "127.0.0.1"},
        {"https://user:secret@host.example/p", "host.example"},
        {"http://[::1]:80/", "[::1]"},
        {"ftp://h", "h"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        cli_fetch_url_host(c[i].url, h, sizeof h);
        cr_expect_str_eq(h, c[i].host, "%s", c[i].url);
    }
}

/* ---- hashes (known answers: RFC 1321 and FIPS 180-2 test vectors) ---- */

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

Test(fetch, hashes_known_answers) {
    char path[300], sha[65], md5[33];
    snprintf(path, sizeof path, "%s/h", tmpdir);
    write_file(path, "", 0);
    cr_assert_eq(cli_fetch_hash_file(path, sha, md5), 0);
    cr_expect_str_eq(md5, "d41d8cd98f00b204e9800998ecf8427e");
    cr_expect_str_eq(sha, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    write_file(path, "abc", 3);
    cr_assert_eq(cli_fetch_hash_file(path, sha, md5), 0);
    cr_expect_str_eq(md5, "900150983cd24fb0d6963f7d28e17f72");
    cr_expect_str_eq(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *fox = "12345678901234567890123456789012345678901234567890123456789012345678901234567890";
    write_file(path, fox, strlen(fox));
    cr_assert_eq(cli_fetch_hash_file(path, sha, md5), 0);
    cr_expect_str_eq(md5, "57edf4a22be3c955ac49da2e2107b67a");
    /* A million 'a': many blocks and more than one read buffer. */
    char *m = malloc(1000000);
    memset(m, 'a', 1000000);
    write_file(path, m, 1000000);
    free(m);
    cr_assert_eq(cli_fetch_hash_file(path, sha, md5), 0);
    cr_expect_str_eq(md5, "7707d6ae4e027c70eea2a935c2296f21");
    cr_expect_str_eq(sha, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    snprintf(path, sizeof path, "%s/none", tmpdir);
    cr_expect_eq(cli_fetch_hash_file(path, sha, md5), -1);
}

/* ---- lock ---- */

Test(fetch, lock_round_trip) {
    cli_fetch_lock l;
    cr_assert_eq(cli_fetch_lock_read(&l, tmpdir), 0, "a missing lock is empty");
    cr_expect_eq(l.n, 0);
    const char *s1 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const char *s2 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    cli_fetch_lock_set(&l, "a/b.bin", 12, 34, s1);
    cli_fetch_lock_set(&l, "c", 5000000000LL, 1, s2);
    cli_fetch_lock_set(&l, "a/b.bin", 13, 35, s2); /* replaces */
    cr_expect_eq(l.n, 2);
    cr_assert_eq(cli_fetch_lock_write(&l), 0);
    cli_fetch_lock_free(&l);
    cr_assert_eq(cli_fetch_lock_read(&l, tmpdir), 0);
    cr_assert_eq(l.n, 2);
    const cli_fetch_lock_entry *e = cli_fetch_lock_find(&l, "a/b.bin");
    cr_assert(e);
    cr_expect_eq(e->size, 13);
    cr_expect_eq(e->mtime, 35);
    cr_expect_str_eq(e->sha256, s2);
    cr_expect_eq(cli_fetch_lock_find(&l, "c")->size, 5000000000LL);
    cr_expect_null(cli_fetch_lock_find(&l, "d"));
    cli_fetch_lock_free(&l);
    char path[300];
    snprintf(path, sizeof path, "%s/MANIFEST.lock", tmpdir);
    write_file(path, "# c\nx 1 2 nothex\n", 16);
    cr_expect_eq(cli_fetch_lock_read(&l, tmpdir), -1);
    cr_expect(strstr(en_error_msg(), "MANIFEST.lock:2:"), "%s", en_error_msg());
}

/* ---- tar ---- */

/* One ustar header + data, padded, to a gz stream. */
static void tar_add(gzFile g, const char *name, char type, const void *data, size_t n, int break_sum) {
    unsigned char h[512] = {0};
    snprintf((char *)h, 100, "%s", name);
    snprintf((char *)h + 100, 8, "0000644");
    snprintf((char *)h + 124, 12, "%011o", (unsigned)n);
    h[156] = (unsigned char)type;
    memcpy(h + 257, "ustar\0" "00", 8);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++) sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum + (unsigned)break_sum);
    gzwrite(g, h, 512);
    if (n) gzwrite(g, data, (unsigned)n);
    static const char zero[512];
    if (n % 512) gzwrite(g, zero, (unsigned)(512 - n % 512));
}

static void make_tar(const char *path, int break_sum, int cut) {
    gzFile g = gzopen(path, "wb");
    cr_assert(g);
    const char *ln = "top/a-very-long-name-that-does-not-fit-in-one-hundred-bytes-of-an-old-tar-header-"
                     "so-it-needs-the-gnu-extension";
    tar_add(g, "././@LongLink", 'L', ln, strlen(ln) + 1, 0);
    tar_add(g, "top/a-very-long-name-that-does-not-fit", '0', "skip me", 7, 0);
    tar_add(g, "./top/one.txt", '0', "hello\n", 6, 0);
    tar_add(g, "top/", '5', NULL, 0, 0);
    char big[1500];
    for (int i = 0; i < 1500; i++) big[i] = (char)(i * 7);
    tar_add(g, "top/two.bin", '0', big, 1500, break_sum);
    if (!cut) {
        static const char zero[1024];
        gzwrite(g, zero, 1024);
    }
    gzclose(g);
    if (cut) { /* cut the gz stream in the middle */
        struct stat st;
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(truncate(path, st.st_size / 2), 0);
    }
}

Test(fetch, untar_members) {
    char arch[300], out[512];
    snprintf(arch, sizeof arch, "%s/t.tar.gz", tmpdir);
    make_tar(arch, 0, 0);
    char members[2][128] = {"two.bin", "one.txt"};
    cr_assert_eq(cli_fetch_untar(arch, "top", members, 2, tmpdir), 0, "%s", en_error_msg());
    snprintf(out, sizeof out, "%s/top/one.txt", tmpdir);
    char buf[2000];
    FILE *f = fopen(out, "rb");
    cr_assert(f);
    cr_expect_eq(fread(buf, 1, sizeof buf, f), 6);
    fclose(f);
    cr_expect_eq(memcmp(buf, "hello\n", 6), 0);
    snprintf(out, sizeof out, "%s/top/two.bin", tmpdir);
    f = fopen(out, "rb");
    cr_assert(f);
    cr_expect_eq(fread(buf, 1, sizeof buf, f), 1500);
    fclose(f);
    int bad = 0;
    for (int i = 0; i < 1500; i++) bad += buf[i] != (char)(i * 7);
    cr_expect_eq(bad, 0, "%d bytes differ", bad);
    snprintf(out, sizeof out, "%s/top/a-very-long-name-that-does-not-fit", tmpdir);
    cr_expect_neq(access(out, F_OK), 0, "members not asked for are not written");

    char want_long[1][128] = {"a-very-long-name-that-does-not-fit-in-one-hundred-bytes-of-an-old-tar-header-so-it-needs-the-gnu-extension"};
    cr_expect_eq(cli_fetch_untar(arch, "top", want_long, 1, tmpdir), 0, "GNU long name: %s", en_error_msg());
    snprintf(out, sizeof out, "%s/top/%s", tmpdir, want_long[0]);
    f = fopen(out, "rb");
    cr_assert(f, "the long-named member was written");
    cr_expect_eq(fread(buf, 1, sizeof buf, f), 7);
    fclose(f);
    cr_expect_eq(memcmp(buf, "skip me", 7), 0);

    char missing[1][128] = {"three.bin"};
    cr_expect_eq(cli_fetch_untar(arch, "top", missing, 1, tmpdir), -1);
    cr_expect(strstr(en_error_msg(), "no member top/three.bin"), "%s", en_error_msg());
}

Test(fetch, untar_rejects_corrupt_archives) {
    char arch[300];
    char members[1][128] = {"two.bin"};
    snprintf(arch, sizeof arch, "%s/bad.tar.gz", tmpdir);
    make_tar(arch, 1, 0);
    cr_expect_eq(cli_fetch_untar(arch, "top", members, 1, tmpdir), -1);
    cr_expect(strstr(en_error_msg(), "header checksum"), "%s", en_error_msg());
    make_tar(arch, 0, 1);
    cr_expect_eq(cli_fetch_untar(arch, "top", members, 1, tmpdir), -1);
    cr_expect(strstr(en_error_msg(), "bad.tar.gz"), "%s", en_error_msg());
    write_file(arch, "not a tar file at all", 21);
    cr_expect_eq(cli_fetch_untar(arch, "top", members, 1, tmpdir), -1);
    char out[300];
    snprintf(out, sizeof out, "%s/top/two.bin", tmpdir);
    cr_expect_neq(access(out, F_OK), 0, "nothing half-written is left under the final name");
}

/* A tree: everything under a folder of the archive, sub-folders kept,
 * "._" resource forks and other folders left out; then the listing, its
 * check (sizes; hashes on request) and the removal of exactly what it lists. */
Test(fetch, untar_tree_and_listing) {
    char arch[300], into[300], path[400];
    snprintf(arch, sizeof arch, "%s/p.tar", tmpdir);
    gzFile g = gzopen(arch, "wb0"); /* a plain tar under a .tar name, as the Pet archives are */
    cr_assert(g);
    tar_add(g, "annotations/", '5', NULL, 0, 0);
    tar_add(g, "annotations/test.txt", '0', "a 1 1 1\n", 8, 0);
    tar_add(g, "annotations/trimaps/a.png", '0', "PNGDATA", 7, 0);
    tar_add(g, "annotations/trimaps/._a.png", '0', "fork", 4, 0);
    tar_add(g, "other/x.txt", '0', "no", 2, 0);
    static const char zero[1024];
    gzwrite(g, zero, 1024);
    gzclose(g);
    snprintf(into, sizeof into, "%s/data/pets/annotations", tmpdir);
    cr_assert_eq(cli_fetch_untar_tree(arch, "annotations", into), 2, "%s", en_error_msg());
    snprintf(path, sizeof path, "%s/trimaps/a.png", into);
    cr_expect_eq(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/trimaps/._a.png", into);
    cr_expect_neq(access(path, F_OK), 0, "resource forks are skipped");
    snprintf(path, sizeof path, "%s/data/pets/other", tmpdir);
    cr_expect_neq(access(path, F_OK), 0, "other folders are not extracted");

    cr_assert_eq(cli_fetch_tree_list(into, CLI_FETCH_TREE_LISTING), 0, "%s", en_error_msg());
    snprintf(path, sizeof path, "%s/" CLI_FETCH_TREE_LISTING, into);
    char buf[1000] = "";
    FILE *f = fopen(path, "r");
    cr_assert(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* SHA-256 of "a 1 1 1\n" by sha256sum; lines sorted by path */
    cr_expect_str_eq(buf, "8 9084327e21bcba5693d4bcd2f7c3075a782b3b372bffea2b80dd729e45a89d7a test.txt\n"
                          "7 2d4566582844690f8634a8b2534ea5221560038c6c0650c99140759bad603ae2 trimaps/a.png\n", "listing:\n%s", buf);
    cr_expect_eq(cli_fetch_tree_check(into, CLI_FETCH_TREE_LISTING, 1), 0, "%s", en_error_msg());
    snprintf(path, sizeof path, "%s/test.txt", into);
    write_file(path, "b 1 1 1\n", 8); /* same size, other bytes */
    cr_expect_eq(cli_fetch_tree_check(into, CLI_FETCH_TREE_LISTING, 0), 0, "sizes only: not hashed");
    cr_expect_eq(cli_fetch_tree_check(into, CLI_FETCH_TREE_LISTING, 1), -1);
    cr_expect(strstr(en_error_msg(), "test.txt: SHA-256"), "%s", en_error_msg());
    write_file(path, "b\n", 2);
    cr_expect_eq(cli_fetch_tree_check(into, CLI_FETCH_TREE_LISTING, 0), -1);
    cr_expect(strstr(en_error_msg(), "test.txt: 2 bytes, but 8 when extracted"), "%s", en_error_msg());
    snprintf(path, sizeof path, "%s/mine.txt", into);
    write_file(path, "kept", 4);
    cli_fetch_tree_remove(into, CLI_FETCH_TREE_LISTING);
    cr_expect_eq(access(path, F_OK), 0, "a file the listing does not name is never removed");
    snprintf(path, sizeof path, "%s/trimaps/a.png", into);
    cr_expect_neq(access(path, F_OK), 0, "listed files are removed");

    cr_expect_eq(cli_fetch_untar_tree(arch, "nothing", into), -1);
    cr_expect(strstr(en_error_msg(), "no files under nothing/"), "%s", en_error_msg());
}

Test(fetch, untar_tree_refuses_unsafe_paths) {
    char arch[300], into[300], path[400];
    snprintf(arch, sizeof arch, "%s/evil.tar.gz", tmpdir);
    gzFile g = gzopen(arch, "wb");
    tar_add(g, "images/ok.jpg", '0', "x", 1, 0);
    tar_add(g, "images/../../escape.txt", '0', "x", 1, 0);
    static const char zero[1024];
    gzwrite(g, zero, 1024);
    gzclose(g);
    snprintf(into, sizeof into, "%s/d/images", tmpdir);
    cr_expect_eq(cli_fetch_untar_tree(arch, "images", into), -1);
    cr_expect(strstr(en_error_msg(), "unsafe path"), "%s", en_error_msg());
    snprintf(path, sizeof path, "%s/escape.txt", tmpdir);
    cr_expect_neq(access(path, F_OK), 0, "nothing is written outside the folder");
}

/* ---- download failures ---- */

Test(fetch, connection_refused_is_unreachable) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(s, (struct sockaddr *)&a, &al), 0);
    close(s); /* nothing listens there now */
    char url[64], part[300];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", ntohs(a.sin_port));
    snprintf(part, sizeof part, "%s/x.part", tmpdir);
    cli_fetch_opts o;
    cli_fetch_opts_default(&o);
    o.progress = 0;
    o.connect_timeout_s = 5;
    setenv("NO_PROXY", "*", 1);
    cr_expect_eq(cli_fetch_download(url, part, &o), CLI_FETCH_UNREACHABLE, "%s", en_error_msg());
    cr_expect(strlen(en_error_msg()) > 0);
}
