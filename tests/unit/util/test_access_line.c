/* The access log's line format (util/access_line.c): fields, escaping, time, duration
 * rounding, and a buffer too small. */

#include <string.h>

#include "ringsock/util/access_line.h"
#include "../check.h"

static void test_line(void)
{
    char buf[512];
    struct rs_access_rec r = {
        .time_ms = 1764448262123, /* 2025-11-29T20:31:02.123Z */
        .listener = "127.0.0.1:7000",
        .proto = "tcp",
        .service = "echo",
        .client = "[::1]:51234",
        .bytes_in = 64,
        .bytes_out = 18446744073709551615ull,
        .duration_ns = 1234567890, /* 1.2346 s: 1.235 */
        .reason = "reset",
        .error = "ECONNRESET",
    };
    size_t n = rs_access_line_format(buf, sizeof(buf), &r);
    const char *want =
        "{\"time\":\"2025-11-29T20:31:02.123Z\",\"listener\":\"127.0.0.1:7000\","
        "\"listener_name\":\"\",\"proto\":\"tcp\",\"service\":\"echo\",\"client\":\"[::1]:51234\","
        "\"upstream\":\"\",\"bytes_in\":64,\"bytes_out\":18446744073709551615,\"duration\":1.235,"
        "\"reason\":\"reset\",\"error\":\"ECONNRESET\"}\n";
    CHECK_EQ(n, strlen(want));
    CHECK(n == strlen(want) && memcmp(buf, want, n) == 0);
    if (n != strlen(want) || memcmp(buf, want, n) != 0)
        fprintf(stderr, "got: %.*s", (int)n, buf);

    /* Every prefix too short is refused whole; the exact size fits. */
    for (size_t size = 0; size < strlen(want); size++)
        CHECK_EQ(rs_access_line_format(buf, size, &r), 0);
    CHECK_EQ(rs_access_line_format(buf, strlen(want), &r), strlen(want));
}

static void test_escape(void)
{
    char buf[512];
    struct rs_access_rec r = {
        .time_ms = 0,
        .listener = "a\"b\\c",
        .listener_name = "x\ny\t\x01\x1f\x7f\xc3\xa9",
        .duration_ns = 499999, /* 0.000 */
    };
    size_t n = rs_access_line_format(buf, sizeof(buf), &r);
    buf[n] = '\0';
    CHECK(strstr(buf, "\"time\":\"1970-01-01T00:00:00.000Z\"") != NULL);
    CHECK(strstr(buf, "\"listener\":\"a\\\"b\\\\c\"") != NULL);
    CHECK(strstr(buf, "\"listener_name\":\"x\\ny\\t\\u0001\\u001f\\u007f\xc3\xa9\"") != NULL);
    CHECK(strstr(buf, "\"client\":\"\",\"upstream\":\"\"") != NULL); /* NULL: empty */
    CHECK(strstr(buf, "\"duration\":0.000,") != NULL);
    CHECK(strstr(buf, "\"error\":\"\"}\n") != NULL);
    r.duration_ns = 500000; /* rounds up to 1 ms */
    n = rs_access_line_format(buf, sizeof(buf), &r);
    buf[n] = '\0';
    CHECK(strstr(buf, "\"duration\":0.001,") != NULL);
    r.duration_ns = 61999600000ull;
    n = rs_access_line_format(buf, sizeof(buf), &r);
    buf[n] = '\0';
    CHECK(strstr(buf, "\"duration\":62.000,") != NULL);
}

static void test_time(void)
{
    char t[32];
    CHECK(strcmp(rs_access_time_format(951782400999, t, sizeof(t)), "2000-02-29T00:00:00.999Z") ==
          0);
    CHECK(strcmp(rs_access_time_format(-1, t, sizeof(t)), "1969-12-31T23:59:59.999Z") == 0);
}

int main(void)
{
    test_line();
    test_escape();
    test_time();
    return check_done("test_access_line");
}
