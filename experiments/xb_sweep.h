/* experiments/xb_sweep.h: a [sweep] section expanded into independent runs.
 *
 * A sweep is a config whose [sweep] section gives, for any `section.key`, the values
 * that key takes:
 *     device.dw_min    = 0.001, 0.002, 0.005      a list (items trimmed, none empty)
 *     data.sequence    = mnist,fmnist | fmnist    with a '|', items are split at '|' only
 *     run.seed         = 1..10                    integers A..B, both ends included
 *     device.ber_write = 1e-6..1e-1 log 6         N values evenly spaced in log10, A, B > 0
 *     x.y              = 0..1 lin 5               N values evenly spaced, ends included
 *     zip              = device.type, device.g_unit    keys that vary together
 *     zip.NAME         = key1, key2, ...               further zip groups, any NAME
 * Every axis outside a zip group is its own group; the runs are the grid product of the
 * groups, enumerated like nested loops in the order the groups first appear in [sweep]
 * (the first group varies slowest, the last fastest). A zip group steps all its keys
 * together and they must have equal lengths. Range values are printed with %.12g, so
 * `1e-6..1e-1 log 6` gives exactly 1e-06, 1e-05, ..., 0.1.
 *
 * `--set` overrides apply before expansion: `--set sweep.device.dw_min=0.1,0.2` replaces
 * an axis; `--set device.dw_min=0.1` given after the file fixes a swept key to that one
 * value (the axis is dropped).
 *
 * A run is the config with [sweep] removed and the run's values put in place (their
 * origin is the [sweep] line that gave them, so a run's errors point there). Its id is
 * FNV-1a 64 (16 lowercase hex digits) of the canonical text (xb_sweep_canonical): every
 * key of every section sorted by section then key, "[section]\nkey = value\n" -- the same
 * resolved config in any order gets the same id, and any change of any key a new one.
 *
 * Not thread-safe per object; an xb_sweep is read-only after xb_sweep_alloc. */
#ifndef XB_SWEEP_H
#define XB_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "core/xb_config.h"
#include "core/xb_err.h"

enum { XB_SWEEP_MAX_RUNS = 10000000, XB_RUN_ID_LEN = 16 };

typedef struct xb_sweep_axis {
    char *name;                 /* "section.key" as written in [sweep] */
    char *section, *key;
    char **values;              /* n strings, as they go into the run config */
    size_t n;
    char *origin;               /* where the axis was given, for messages */
    int line;
    size_t group;               /* index into xb_sweep.group_len */
} xb_sweep_axis;

typedef struct xb_sweep {
    xb_config *base;            /* the config without [sweep], --set applied */
    xb_sweep_axis *axis;        /* in [sweep] order */
    size_t naxes;
    size_t *group_len;          /* values per group; product = nruns */
    size_t ngroups;
    size_t nruns;               /* 1 when there is no [sweep] */
} xb_sweep;

/* Optional check of a swept key against the schemas (the CLI knows them; the library
 * does not): return XB_OK or fail with a message that names the key, without location
 * (the sweep prefixes "file:line: [sweep] "). */
typedef xb_status (*xb_sweep_key_check)(const char *section, const char *key,
                                        const xb_config *base, xb_err *err);

/* Parse c's [sweep] section. c is borrowed; *out is owned by the caller. Errors name the
 * [sweep] line: "s.ini:7: [sweep] run.seed = '5..1' is an empty range (5 > 1)". */
xb_status xb_sweep_alloc(xb_sweep **out, const xb_config *c, xb_sweep_key_check check,
                         xb_err *err);
void xb_sweep_free(xb_sweep *s);                         /* NULL is fine */

/* Which value of each axis run k takes: choice[a] indexes axis[a].values. */
void xb_sweep_choice(const xb_sweep *s, size_t k, size_t *choice);
/* The resolved config of run k (caller frees with xb_config_free). */
xb_status xb_sweep_run_config(const xb_sweep *s, size_t k, xb_config **out, xb_err *err);

/* Canonical text of a config (malloc'd; NULL on OOM) and its id. */
char *xb_sweep_canonical(const xb_config *c);
uint64_t xb_sweep_fnv1a(const char *text);
/* id[XB_RUN_ID_LEN + 1]: 16 hex digits of xb_sweep_fnv1a(canonical text). */
xb_status xb_sweep_run_id(const xb_config *run, char *id, xb_err *err);

/* "i/N" with 0 <= i < N; run k belongs to shard i iff k % N == i. */
xb_status xb_sweep_parse_shard(const char *text, unsigned *i, unsigned *n, xb_err *err);

#endif
