#include "core/xb_idx.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/xb_mem.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static size_t type_size(uint8_t t)
{
    switch (t) {
    case XB_IDX_U8: case XB_IDX_S8: return 1;
    case XB_IDX_S16: return 2;
    case XB_IDX_S32: case XB_IDX_F32: return 4;
    case XB_IDX_F64: return 8;
    }
    return 0;
}

xb_status xb_idx_parse(const uint8_t *buf, size_t len, const char *name, xb_idx *out,
                       xb_err *err)
{
    memset(out, 0, sizeof *out);
    if (len < 4)
        return xb_fail(err, XB_EIO, "%s: truncated IDX file (%zu bytes, header needs 4)", name, len);
    if (buf[0] != 0 || buf[1] != 0)
        return xb_fail(err, XB_EINVAL, "%s: not an IDX file (magic %02x %02x, expected 00 00)",
                       name, buf[0], buf[1]);
    const size_t es = type_size(buf[2]);
    if (!es)
        return xb_fail(err, XB_EINVAL, "%s: unknown IDX element type 0x%02x", name, buf[2]);
    const unsigned nd = buf[3];
    if (nd < 1 || nd > XB_IDX_MAXDIM)
        return xb_fail(err, XB_EINVAL, "%s: IDX file with %u dimensions (1 to %d supported)",
                       name, nd, XB_IDX_MAXDIM);
    if (len < 4 + 4 * (size_t)nd)
        return xb_fail(err, XB_EIO, "%s: truncated IDX header (%zu bytes, need %zu)", name, len,
                       4 + 4 * (size_t)nd);
    size_t count = 1;
    for (unsigned d = 0; d < nd; d++) {
        out->dims[d] = be32(buf + 4 + 4 * d);
        if (out->dims[d] == 0)
            return xb_fail(err, XB_EINVAL, "%s: IDX dimension %u is 0", name, d);
        if (count > ((size_t)1 << 40) / out->dims[d])
            return xb_fail(err, XB_EINVAL, "%s: IDX dimensions too large", name);
        count *= out->dims[d];
    }
    const size_t need = 4 + 4 * (size_t)nd + count * es;
    if (len < need)
        return xb_fail(err, XB_EIO, "%s: truncated IDX file: %zu bytes, the header promises %zu",
                       name, len, need);
    if (len > need)
        return xb_fail(err, XB_EINVAL, "%s: %zu bytes after the IDX data (corrupt file?)", name,
                       len - need);
    out->data = xb_malloc(count * es);
    if (!out->data) return xb_fail(err, XB_ENOMEM, "%s: out of memory", name);
    memcpy(out->data, buf + 4 + 4 * nd, count * es);
    out->type = buf[2];
    out->ndims = (uint8_t)nd;
    out->count = count;
    out->elsize = es;
    return XB_OK;
}

xb_status xb_read_file_gz(const char *path, size_t max, uint8_t **out, size_t *len, xb_err *err)
{
    *out = NULL;
    *len = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) return xb_fail(err, XB_EIO, "%s: cannot open (%s)", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = xb_malloc(cap);
    if (!buf) { gzclose(f); return xb_fail(err, XB_ENOMEM, "%s: out of memory", path); }
    for (;;) {
        if (n == cap) {
            if (cap >= max) {
                xb_free(buf); gzclose(f);
                return xb_fail(err, XB_EINVAL, "%s: larger than %zu bytes", path, max);
            }
            cap = cap * 2 > max ? max : cap * 2;
            uint8_t *nb = xb_realloc(buf, cap);
            if (!nb) { xb_free(buf); gzclose(f); return xb_fail(err, XB_ENOMEM, "%s: out of memory", path); }
            buf = nb;
        }
        const int want = (int)((cap - n) > (1u << 30) ? (1u << 30) : (cap - n));
        const int got = gzread(f, buf + n, (unsigned)want);
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            xb_status st = xb_fail(err, XB_EIO, "%s: corrupt or truncated gzip data (%s)", path, msg);
            xb_free(buf); gzclose(f);
            return st;
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    /* zlib reports a truncated gzip stream only through gzerror after EOF */
    int zerr = Z_OK;
    gzerror(f, &zerr);
    if (zerr != Z_OK && zerr != Z_STREAM_END) {
        xb_free(buf); gzclose(f);
        return xb_fail(err, XB_EIO, "%s: truncated gzip stream", path);
    }
    const int rc = gzclose(f);
    if (rc == Z_BUF_ERROR) {       /* gzclose_r: the stream ended in the middle */
        xb_free(buf);
        return xb_fail(err, XB_EIO, "%s: truncated gzip stream", path);
    }
    *out = buf;
    *len = n;
    return XB_OK;
}

xb_status xb_idx_read(const char *path, xb_idx *out, xb_err *err)
{
    uint8_t *buf;
    size_t len;
    memset(out, 0, sizeof *out);
    xb_status st = xb_read_file_gz(path, (size_t)1 << 30, &buf, &len, err);
    if (st != XB_OK) return st;
    st = xb_idx_parse(buf, len, path, out, err);
    xb_free(buf);
    return st;
}

xb_status xb_idx_write_u8_gz(const char *path, int ndims, const uint32_t *dims,
                             const uint8_t *data, xb_err *err)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return xb_fail(err, XB_EINVAL, "%s: path too long", path);
    gzFile f = gzopen(tmp, "wb9");
    if (!f) return xb_fail(err, XB_EIO, "%s: cannot create (%s)", tmp, strerror(errno));
    uint8_t hdr[4 + 4 * XB_IDX_MAXDIM] = { 0, 0, XB_IDX_U8, (uint8_t)ndims };
    size_t count = 1;
    for (int d = 0; d < ndims; d++) {
        hdr[4 + 4 * d] = (uint8_t)(dims[d] >> 24);
        hdr[5 + 4 * d] = (uint8_t)(dims[d] >> 16);
        hdr[6 + 4 * d] = (uint8_t)(dims[d] >> 8);
        hdr[7 + 4 * d] = (uint8_t)dims[d];
        count *= dims[d];
    }
    int ok = gzwrite(f, hdr, (unsigned)(4 + 4 * ndims)) == 4 + 4 * ndims;
    for (size_t off = 0; ok && off < count; off += 1u << 20) {
        const unsigned n = (unsigned)(count - off < (1u << 20) ? count - off : (1u << 20));
        ok = gzwrite(f, data + off, n) == (int)n;
    }
    if (gzclose(f) != Z_OK) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return xb_fail(err, XB_EIO, "%s: write failed (%s)", path, strerror(errno));
    }
    return XB_OK;
}

void xb_idx_free(xb_idx *x)
{
    if (x) { xb_free(x->data); x->data = NULL; }
}
