/* gen-json.h — the strict syntax check in front of json-glib. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Strict RFC 8259 syntax check of the LEN bytes at DATA (no terminator
 * needed), run before handing untrusted bytes to json-glib, which accepts
 * single quotes and hex numbers, silently wraps integers outside int64 and
 * recurses without limit.  Also rejects invalid UTF-8, NUL bytes, "\u0000",
 * unpaired surrogates and nesting deeper than GEN_JSON_MAX_DEPTH.  On failure
 * sets GEN_ERROR_FORMAT "line L, column C: what" (callers prefix the file). */
#define GEN_JSON_MAX_DEPTH 128
gboolean gen_json_check (const char *data, gsize len, GError **error);

G_END_DECLS
