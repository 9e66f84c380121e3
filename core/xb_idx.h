/* core/xb_idx.h: IDX files (the MNIST container), plain or gzip-compressed.
 *
 * Layout: 2 zero bytes, a type byte (0x08 u8, 0x09 s8, 0x0B s16, 0x0C s32, 0x0D f32,
 * 0x0E f64), the number of dimensions, then one big-endian u32 per dimension, then
 * the data, big-endian, row-major. The reader checks every field against the bytes
 * actually present and never trusts a size before checking it; a truncated, padded
 * or corrupt file gives a one-line error naming the file and what is wrong. */
#ifndef XB_IDX_H
#define XB_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "core/xb_err.h"

enum { XB_IDX_MAXDIM = 4 };
enum { XB_IDX_U8 = 0x08, XB_IDX_S8 = 0x09, XB_IDX_S16 = 0x0B, XB_IDX_S32 = 0x0C,
       XB_IDX_F32 = 0x0D, XB_IDX_F64 = 0x0E };

typedef struct xb_idx {
    uint8_t type, ndims;
    uint32_t dims[XB_IDX_MAXDIM];
    size_t count;          /* product of dims */
    size_t elsize;         /* bytes per element */
    uint8_t *data;         /* count * elsize bytes, as stored (big-endian) */
} xb_idx;

/* Parse an in-memory IDX image (not compressed). `name` is used in messages. */
xb_status xb_idx_parse(const uint8_t *buf, size_t len, const char *name, xb_idx *out,
                       xb_err *err);
/* Read a file, gzip or plain (detected from its first bytes). Files above 1 GiB
 * (uncompressed) are refused. */
xb_status xb_idx_read(const char *path, xb_idx *out, xb_err *err);
/* Write a u8 IDX file, gzip-compressed, atomically (temp file + rename). */
xb_status xb_idx_write_u8_gz(const char *path, int ndims, const uint32_t *dims,
                             const uint8_t *data, xb_err *err);
void xb_idx_free(xb_idx *x);       /* frees data; the struct itself is the caller's */

/* Read a whole file into memory, decompressing gzip if present; max bytes cap. */
xb_status xb_read_file_gz(const char *path, size_t max, uint8_t **out, size_t *len, xb_err *err);

#endif
