/* gen-json.c — the strict RFC 8259 syntax check every untrusted JSON byte
 * goes through before json-glib sees it (config.json, safetensors headers
 * and indexes). */
#include "gen-json.h"
#include "gen-error.h"

static gboolean json_fail (const char *data, gsize pos, GError **error,
                           const char *fmt, ...) G_GNUC_PRINTF (4, 5);

static gboolean
json_fail (const char *data, gsize pos, GError **error, const char *fmt, ...)
{
  va_list args;
  char *what;
  guint line = 1, col = 1;
  gsize i;

  for (i = 0; i < pos; i++)
    {
      if (data[i] == '\n')
        {
          line++;
          col = 1;
        }
      else
        col++;
    }

  va_start (args, fmt);
  what = g_strdup_vprintf (fmt, args);
  va_end (args);
  g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "line %u, column %u: %s", line, col, what);
  g_free (what);
  return FALSE;
}

/* A printable description of the byte at POS (or of the end), for messages. */
static const char *
json_describe (const guchar *s, gsize len, gsize pos, char buf[16])
{
  if (pos >= len)
    return "end of data";
  if (s[pos] >= 0x20 && s[pos] < 0x7f)
    g_snprintf (buf, 16, "'%c'", s[pos]);
  else
    g_snprintf (buf, 16, "byte 0x%02x", s[pos]);
  return buf;
}

static gsize
json_skip_ws (const guchar *s, gsize len, gsize i)
{
  while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
    i++;
  return i;
}

static int
json_hex4 (const guchar *s, gsize len, gsize i)
{
  int v = 0;
  gsize k;

  if (i > len || len - i < 4)
    return -1;
  for (k = 0; k < 4; k++)
    {
      int d = g_ascii_xdigit_value (s[i + k]);
      if (d < 0)
        return -1;
      v = v * 16 + d;
    }
  return v;
}

/* *POS is at the opening quote; on success it is just past the closing one. */
static gboolean
json_scan_string (const guchar *s, gsize len, gsize *pos, GError **error)
{
  const char *data = (const char *) s;
  gsize i = *pos + 1;

  for (;;)
    {
      if (i >= len)
        return json_fail (data, *pos, error, "unterminated string");
      if (s[i] == '"')
        break;
      if (s[i] < 0x20)
        return json_fail (data, i, error, "control character 0x%02x in a string", s[i]);
      if (s[i] != '\\')
        {
          i++;
          continue;
        }
      if (i + 1 >= len)
        return json_fail (data, *pos, error, "unterminated string");
      switch (s[i + 1])
        {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
          i += 2;
          break;
        case 'u':
          {
            int cp = json_hex4 (s, len, i + 2);

            if (cp < 0)
              return json_fail (data, i, error, "bad \\u escape (four hex digits expected)");
            if (cp == 0)
              return json_fail (data, i, error, "\\u0000 is not allowed in a string");
            if (cp >= 0xDC00 && cp <= 0xDFFF)
              return json_fail (data, i, error, "unpaired surrogate \\u%04x", (guint) cp);
            if (cp >= 0xD800 && cp <= 0xDBFF)
              {
                int lo = (i + 7 < len && s[i + 6] == '\\' && s[i + 7] == 'u')
                         ? json_hex4 (s, len, i + 8) : -1;

                if (lo < 0xDC00 || lo > 0xDFFF)
                  return json_fail (data, i, error, "unpaired surrogate \\u%04x", (guint) cp);
                i += 6;
              }
            i += 6;
            break;
          }
        default:
          return json_fail (data, i, error, "invalid escape in a string");
        }
    }
  *pos = i + 1;
  return TRUE;
}

/* *POS is at '-' or a digit; integers (no fraction, no exponent) must fit
 * in int64, as json-glib would otherwise wrap them. */
static gboolean
json_scan_number (const guchar *s, gsize len, gsize *pos, GError **error)
{
  const char *data = (const char *) s;
  gsize i = *pos;
  gboolean neg = FALSE, integral = TRUE, overflow = FALSE;
  guint64 mag = 0;

  if (s[i] == '-')
    {
      neg = TRUE;
      i++;
    }
  if (i >= len || !g_ascii_isdigit (s[i]))
    return json_fail (data, i, error, "bad number (digit expected)");
  if (s[i] == '0')
    i++;
  else
    while (i < len && g_ascii_isdigit (s[i]))
      {
        guint d = s[i] - '0';
        if (mag > (G_MAXUINT64 - d) / 10)
          overflow = TRUE;
        else
          mag = mag * 10 + d;
        i++;
      }
  if (i < len && s[i] == '.')
    {
      integral = FALSE;
      i++;
      if (i >= len || !g_ascii_isdigit (s[i]))
        return json_fail (data, i, error, "bad number (digit expected after '.')");
      while (i < len && g_ascii_isdigit (s[i]))
        i++;
    }
  if (i < len && (s[i] == 'e' || s[i] == 'E'))
    {
      integral = FALSE;
      i++;
      if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
      if (i >= len || !g_ascii_isdigit (s[i]))
        return json_fail (data, i, error, "bad number (digit expected in exponent)");
      while (i < len && g_ascii_isdigit (s[i]))
        i++;
    }
  if (integral)
    {
      guint64 limit = neg ? (guint64) G_MAXINT64 + 1 : (guint64) G_MAXINT64;
      if (overflow || mag > limit)
        return json_fail (data, *pos, error, "integer %.*s is out of the 64-bit range",
                          (int) MIN (i - *pos, 40), data + *pos);
    }
  *pos = i;
  return TRUE;
}

gboolean
gen_json_check (const char *data, gsize len, GError **error)
{
  const guchar *s = (const guchar *) data;
  const char *bad = NULL;
  char stack[GEN_JSON_MAX_DEPTH]; /* '{' or '[' per open container */
  guint depth = 0;
  gboolean want_value = TRUE;   /* else: just after a complete value */
  gsize i = 0;
  char buf[16];

  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  if (len > 0 && !g_utf8_validate_len (data, len, &bad))
    return json_fail (data, (gsize) (bad - data), error, "not valid UTF-8 (or a NUL byte)");

  for (;;)
    {
      i = json_skip_ws (s, len, i);
      if (want_value)
        {
          if (i >= len)
            return json_fail (data, i, error, "unexpected end of data, expected a value");
          if (s[i] == '{' || s[i] == '[')
            {
              char close = s[i] == '{' ? '}' : ']';

              if (depth == GEN_JSON_MAX_DEPTH)
                return json_fail (data, i, error, "nested deeper than %d levels",
                                  GEN_JSON_MAX_DEPTH);
              stack[depth++] = (char) s[i];
              i = json_skip_ws (s, len, i + 1);
              if (i < len && s[i] == close)
                {
                  depth--;
                  i++;
                  want_value = FALSE;
                  continue;
                }
              if (close == ']')
                continue;
              /* first key of an object */
              if (i >= len || s[i] != '"')
                return json_fail (data, i, error, "unexpected %s, expected a string key or '}'",
                                  json_describe (s, len, i, buf));
              if (!json_scan_string (s, len, &i, error))
                return FALSE;
              i = json_skip_ws (s, len, i);
              if (i >= len || s[i] != ':')
                return json_fail (data, i, error, "unexpected %s, expected ':'",
                                  json_describe (s, len, i, buf));
              i++;
              continue;
            }
          if (s[i] == '"')
            {
              if (!json_scan_string (s, len, &i, error))
                return FALSE;
            }
          else if (s[i] == '-' || g_ascii_isdigit (s[i]))
            {
              if (!json_scan_number (s, len, &i, error))
                return FALSE;
            }
          else if (len - i >= 4 && memcmp (s + i, "true", 4) == 0)
            i += 4;
          else if (len - i >= 5 && memcmp (s + i, "false", 5) == 0)
            i += 5;
          else if (len - i >= 4 && memcmp (s + i, "null", 4) == 0)
            i += 4;
          else
            return json_fail (data, i, error, "unexpected %s, expected a value",
                              json_describe (s, len, i, buf));
          want_value = FALSE;
          continue;
        }

      /* after a value */
      if (depth == 0)
        {
          if (i < len)
            return json_fail (data, i, error, "unexpected %s after the end of the document",
                              json_describe (s, len, i, buf));
          return TRUE;
        }
      {
        char open = stack[depth - 1];
        char close = open == '{' ? '}' : ']';

        if (i < len && s[i] == close)
          {
            depth--;
            i++;
            continue;
          }
        if (i >= len || s[i] != ',')
          return json_fail (data, i, error, "unexpected %s, expected ',' or '%c'",
                            json_describe (s, len, i, buf), close);
        i = json_skip_ws (s, len, i + 1);
        want_value = TRUE;
        if (open == '{')
          {
            if (i >= len || s[i] != '"')
              return json_fail (data, i, error, "unexpected %s, expected a string key",
                                json_describe (s, len, i, buf));
            if (!json_scan_string (s, len, &i, error))
              return FALSE;
            i = json_skip_ws (s, len, i);
            if (i >= len || s[i] != ':')
              return json_fail (data, i, error, "unexpected %s, expected ':'",
                                json_describe (s, len, i, buf));
            i++;
          }
      }
    }
}
