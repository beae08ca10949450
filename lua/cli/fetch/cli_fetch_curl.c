/* cli_fetch_download — one URL to a .part file with libcurl: resume by range
 * request, bounded retries with back-off for transient failures, connect
 * and stall timeouts, and a progress line. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "en_error.h"
#include "en_version.h"
#include "cli_fetch.h"

void cli_fetch_opts_default(cli_fetch_opts *o) {
    memset(o, 0, sizeof *o);
    o->connect_timeout_s = 30;
    o->stall_timeout_s = 60;
    o->retries = 3;
    o->retry_wait_ms = 1000;
    o->progress = 1;
    o->label = "";
    o->expected = -1;
}

typedef struct {
    CURL *curl;
    FILE *f;
    const cli_fetch_opts *o;
    int64_t base;        /* bytes in the file when this try started */
    int checked;         /* response code looked at (first body bytes) */
    int64_t range_start; /* from Content-Range, -1 when none */
    int64_t range_total;
    int bad_range;       /* 206 that does not start where we asked */
    int write_failed;
    /* progress */
    int tty;
    double t0, last;
    int last_decile;
    int shown;
    /* stall detection: curl's low-speed check averages over several seconds */
    int64_t seen;
    double seen_t;
    int stalled;
} dl;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static size_t on_header(char *buf, size_t sz, size_t n, void *ud) {
    dl *d = ud;
    size_t len = sz * n;
    if (len > 5 && !strncmp(buf, "HTTP/", 5)) d->range_start = -1, d->range_total = -1; /* a new response (redirects) */
    if (len > 14 && !strncasecmp(buf, "Content-Range:", 14)) {
        long long a, b, t;
        if (sscanf(buf + 14, " bytes %lld-%lld/%lld", &a, &b, &t) == 3) d->range_start = a, d->range_total = t;
        else if (sscanf(buf + 14, " bytes %lld-%lld/*", &a, &b) == 2) d->range_start = a;
    }
    return len;
}

static size_t on_body(char *buf, size_t sz, size_t n, void *ud) {
    dl *d = ud;
    size_t len = sz * n;
    if (!d->checked) {
        d->checked = 1;
        long code = 0;
        curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &code);
        if (d->base > 0 && code == 200) {
            /* The server ignored the range: start the file again. */
            if (ftruncate(fileno(d->f), 0) < 0 || fseek(d->f, 0, SEEK_SET) < 0) { d->write_failed = errno; return 0; }
            d->base = 0;
        } else if (d->base > 0 && code == 206 && d->range_start >= 0 && d->range_start != d->base) {
            d->bad_range = 1;
            return 0;
        }
    }
    if (fwrite(buf, 1, len, d->f) != len) { d->write_failed = errno ? errno : EIO; return 0; }
    return len;
}

static void fmt_mb(char *out, size_t cap, int64_t b) { snprintf(out, cap, "%.1f", b / 1e6); }

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    dl *d = ud;
    double t = now_s();
    if (dlnow != d->seen) d->seen = dlnow, d->seen_t = t;
    else if (t - d->seen_t > d->o->stall_timeout_s) { d->stalled = 1; return 1; }
    if (!d->o->progress || dlnow <= 0) return 0;
    int64_t have = d->base + dlnow;
    int64_t total = dltotal > 0 ? d->base + dltotal : d->o->expected;
    double rate = dlnow / (t - d->t0 > 1e-3 ? t - d->t0 : 1e-3);
    char hv[32], tv[32];
    fmt_mb(hv, sizeof hv, have);
    fmt_mb(tv, sizeof tv, total);
    if (d->tty) {
        if (t - d->last < 0.2 && !(total > 0 && have >= total)) return 0;
        d->last = t;
        if (total > 0) {
            int w = 30, fill = (int)(w * (double)have / (double)total);
            if (fill > w) fill = w;
            char bar[64];
            for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
            bar[w] = 0;
            double eta = rate > 0 ? (total - have) / rate : 0;
            fprintf(stderr, "\r  %-10s [%s] %3d%%  %s / %s MB  %.1f MB/s  %d:%02d left ", d->o->label, bar,
                    (int)(100.0 * have / total), hv, tv, rate / 1e6, (int)eta / 60, (int)eta % 60);
        } else {
            fprintf(stderr, "\r  %-10s %s MB  %.1f MB/s ", d->o->label, hv, rate / 1e6);
        }
        d->shown = 1;
        return 0;
    }
    /* Not a terminal (make's log, CI): a line every 10 %, or every 30 s. */
    int decile = total > 0 ? (int)(10.0 * have / total) : -1;
    if ((total > 0 && decile > d->last_decile) || t - d->last >= 30) {
        d->last_decile = decile;
        d->last = t;
        if (total > 0) fprintf(stderr, "  %s: %d%% (%s / %s MB, %.1f MB/s)\n", d->o->label, (int)(100.0 * have / total), hv, tv, rate / 1e6);
        else fprintf(stderr, "  %s: %s MB (%.1f MB/s)\n", d->o->label, hv, rate / 1e6);
    }
    return 0;
}

static int is_unreachable(CURLcode c, double connect_time) {
    switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT: return 1;
    case CURLE_OPERATION_TIMEDOUT: return connect_time <= 0; /* never connected */
    default: return 0;
    }
}

static int is_transient(CURLcode c, long http) {
    switch (c) {
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR: return 1;
    case CURLE_HTTP_RETURNED_ERROR: return http >= 500 || http == 429 || http == 408;
    default: return 0;
    }
}

static int global_init(void) {
    static int done;
    if (!done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT)) return en_error("libcurl: initialisation failed");
        done = 1;
    }
    return 0;
}

int cli_fetch_download(const char *url, const char *part, const cli_fetch_opts *o) {
    if (global_init() < 0) return CLI_FETCH_FAILED;
    int wait_ms = o->retry_wait_ms, restarted = 0;
    char ua[64];
    snprintf(ua, sizeof ua, "clipbook/%s", en_version());
    for (int attempt = 0;; attempt++) {
        FILE *f = fopen(part, "ab");
        if (!f) return en_error("%s: cannot write: %s", part, strerror(errno)), CLI_FETCH_FAILED;
        fseek(f, 0, SEEK_END);
        long base = ftell(f);
        if (o->expected > 0 && base == o->expected) { fclose(f); return CLI_FETCH_OK; } /* complete already */
        if (o->expected > 0 && base > o->expected) { /* not the file we want: start again */
            fclose(f);
            f = fopen(part, "wb");
            if (!f) return en_error("%s: cannot write: %s", part, strerror(errno)), CLI_FETCH_FAILED;
            base = 0;
        }
        CURL *c = curl_easy_init();
        if (!c) { fclose(f); return en_error("libcurl: cannot create a handle"), CLI_FETCH_FAILED; }
        dl d = {.curl = c, .f = f, .o = o, .base = base, .range_start = -1, .range_total = -1,
                .tty = isatty(2), .t0 = now_s(), .last_decile = base > 0 && o->expected > 0 ? (int)(10.0 * base / o->expected) : -1};
        d.last = d.seen_t = d.t0;
        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
        curl_easy_setopt(c, CURLOPT_USERAGENT, ua);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)o->connect_timeout_s);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &d);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &d);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &d);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        /* CURLOPT_RANGE, not RESUME_FROM: curl then hands over a 200 reply
         * too (on_body starts the file again) instead of failing. */
        char range[32];
        snprintf(range, sizeof range, "%ld-", base);
        if (base > 0) curl_easy_setopt(c, CURLOPT_RANGE, range);
        CURLcode rc = curl_easy_perform(c);
        long http = 0;
        double ct = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
        curl_easy_getinfo(c, CURLINFO_CONNECT_TIME, &ct);
        curl_easy_cleanup(c);
        if (d.shown) fputc('\n', stderr);
        int ferr = fflush(f) || ferror(f);
        fclose(f);
        if (rc == CURLE_OK && !ferr) return CLI_FETCH_OK;
        const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
        if (d.write_failed || ferr) return en_error("%s: write failed: %s", part, strerror(d.write_failed ? d.write_failed : EIO)), CLI_FETCH_FAILED;
        if (d.bad_range || (http == 416 && !restarted)) {
            /* The server cannot continue this .part (it changed, or it is
             * complete but its size is unknown to us): start again once. */
            restarted = 1;
            unlink(part);
            attempt--;
            continue;
        }
        if (d.stalled) {
            rc = CURLE_OPERATION_TIMEDOUT;
            snprintf(errbuf, sizeof errbuf, "no data for %d s (stalled)", o->stall_timeout_s);
            why = errbuf;
        }
        if (is_unreachable(rc, ct)) return en_error("%s", why), CLI_FETCH_UNREACHABLE;
        if (rc == CURLE_HTTP_RETURNED_ERROR) en_error("HTTP %ld from the server", http);
        else en_error("%s", why);
        if (!is_transient(rc, http) || attempt >= o->retries) return CLI_FETCH_FAILED;
        if (o->progress) fprintf(stderr, "  %s: %s; retrying in %.1f s (%d/%d)\n", o->label, en_error_msg(), wait_ms / 1000.0, attempt + 1, o->retries);
        usleep((useconds_t)wait_ms * 1000);
        wait_ms *= 2;
    }
}
