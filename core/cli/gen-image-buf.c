/* gen-image-buf.c — the growable output buffer the encoders write into. */
#include "gen-image-codec.h"

#include <string.h>

gboolean
gen_image_buf_write_at (GenImageBuf *b, gsize pos, const void *src, gsize n)
{
  gsize end;

  if (!g_size_checked_add (&end, pos, n))
    return FALSE;
  if (end > b->cap)
    {
      gsize cap = MAX (b->cap, 65536);
      guint8 *p;

      while (cap < end)
        if (!g_size_checked_mul (&cap, cap, 2))
          return FALSE;
      p = g_try_realloc (b->data, cap);
      if (p == NULL)
        return FALSE;
      b->data = p;
      b->cap = cap;
    }
  if (pos > b->len)
    memset (b->data + b->len, 0, pos - b->len);
  if (n > 0)
    memcpy (b->data + pos, src, n);
  b->len = MAX (b->len, end);
  return TRUE;
}

gboolean
gen_image_buf_append (GenImageBuf *b, const void *src, gsize n)
{
  return gen_image_buf_write_at (b, b->len, src, n);
}
