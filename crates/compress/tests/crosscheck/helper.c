/* Test helper for the compress crate's cross-check tests: runs the
 * reference UCL and LZO libraries (Debian libucl-dev, liblzo2-dev) on one
 * raw block read from stdin and writes the result to stdout.
 *
 *   helper ucl-c8 LEVEL        ucl_nrv2b_99_compress (default config)
 *   helper ucl-d8 MAXOUT       ucl_nrv2b_decompress_safe_8
 *   helper ucl-d32 MAXOUT      ucl_nrv2b_decompress_safe_le32
 *   helper ucl-c32 LEVEL       ucl_nrv2b_99_compress with a 32-bit bit buffer
 *   helper lzo-c1              lzo1x_1_compress
 *   helper lzo-c999            lzo1x_999_compress
 *   helper lzo-d MAXOUT        lzo1x_decompress_safe
 *
 * Exit status 0 on success, 2 when the library rejects the input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucl/ucl.h>
#include <lzo/lzo1x.h>

static unsigned char *read_all(size_t *len) {
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (n == cap) { cap *= 2; buf = realloc(buf, cap); }
        size_t got = fread(buf + n, 1, cap - n, stdin);
        if (got == 0) break;
        n += got;
    }
    *len = n;
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 2) return 64;
    if (ucl_init() != UCL_E_OK || lzo_init() != LZO_E_OK) return 70;
    size_t in_len;
    unsigned char *in = read_all(&in_len);
    const char *cmd = argv[1];
    unsigned long arg = argc > 2 ? strtoul(argv[2], NULL, 0) : 0;
    size_t cap = in_len + in_len / 8 + 4096;
    if (strstr(cmd, "-d")) cap = arg;
    unsigned char *out = malloc(cap + 1);
    int r;
    if (!strcmp(cmd, "ucl-c8") || !strcmp(cmd, "ucl-c32")) {
        ucl_uint out_len = cap;
        struct ucl_compress_config_t conf;
        memset(&conf, 0xff, sizeof conf);
        if (!strcmp(cmd, "ucl-c32")) { conf.bb_endian = 0; conf.bb_size = 32; }
        r = ucl_nrv2b_99_compress(in, in_len, out, &out_len, NULL, (int) arg,
                                  strcmp(cmd, "ucl-c32") ? NULL : &conf, NULL);
        if (r != UCL_E_OK) return 2;
        fwrite(out, 1, out_len, stdout);
    } else if (!strcmp(cmd, "ucl-d8") || !strcmp(cmd, "ucl-d32")) {
        ucl_uint out_len = cap;
        r = !strcmp(cmd, "ucl-d8")
            ? ucl_nrv2b_decompress_safe_8(in, in_len, out, &out_len, NULL)
            : ucl_nrv2b_decompress_safe_le32(in, in_len, out, &out_len, NULL);
        if (r != UCL_E_OK) { fprintf(stderr, "ucl error %d\n", r); return 2; }
        fwrite(out, 1, out_len, stdout);
    } else if (!strcmp(cmd, "lzo-c1") || !strcmp(cmd, "lzo-c999")) {
        lzo_uint out_len = cap;
        void *wrk = malloc(LZO1X_999_MEM_COMPRESS);
        r = !strcmp(cmd, "lzo-c1")
            ? lzo1x_1_compress(in, in_len, out, &out_len, wrk)
            : lzo1x_999_compress(in, in_len, out, &out_len, wrk);
        if (r != LZO_E_OK) return 2;
        fwrite(out, 1, out_len, stdout);
    } else if (!strcmp(cmd, "lzo-d")) {
        lzo_uint out_len = cap;
        r = lzo1x_decompress_safe(in, in_len, out, &out_len, NULL);
        if (r != LZO_E_OK) { fprintf(stderr, "lzo error %d\n", r); return 2; }
        fwrite(out, 1, out_len, stdout);
    } else {
        return 64;
    }
    return 0;
}
