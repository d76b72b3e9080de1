/* gen-tokenizer-text.c — what the CLIP tokenizer does to text before BPE:
 * transformers' BasicTokenizer(strip_accents=False, do_split_on_punc=False)
 * cleaning (CLIPTokenizer's path without ftfy), CLIP's pre-split pattern,
 * and GPT-2's bytes-to-unicode table. */
#include "gen-tokenizer-text.h"

#include <string.h>

gboolean
gen_tok_is_py_space (gunichar c)
{
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0
         || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029
         || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* ---- cleaning ------------------------------------------------------------ */

/* BasicTokenizer._is_chinese_char: the CJK ideograph blocks. */
static gboolean
is_cjk (gunichar c)
{
  return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf)
         || (c >= 0x20000 && c <= 0x2a6df) || (c >= 0x2a700 && c <= 0x2b73f)
         || (c >= 0x2b740 && c <= 0x2b81f) || (c >= 0x2b820 && c <= 0x2ceaf)
         || (c >= 0xf900 && c <= 0xfaff) || (c >= 0x2f800 && c <= 0x2fa1f);
}

/* Unicode general category C* (control, format, surrogate, private use,
 * unassigned). */
static gboolean
is_category_c (gunichar c)
{
  switch (g_unichar_type (c))
    {
    case G_UNICODE_CONTROL:
    case G_UNICODE_FORMAT:
    case G_UNICODE_SURROGATE:
    case G_UNICODE_PRIVATE_USE:
    case G_UNICODE_UNASSIGNED:
      return TRUE;
    default:
      return FALSE;
    }
}

/* Python's "cased" (Lu, Ll, Lt, Other_Lowercase, Other_Uppercase; of the
 * last two, the letters and symbols that have a case mapping). */
static gboolean
is_cased (gunichar c)
{
  GUnicodeType t = g_unichar_type (c);

  return t == G_UNICODE_UPPERCASE_LETTER || t == G_UNICODE_LOWERCASE_LETTER
         || t == G_UNICODE_TITLECASE_LETTER || c == 0xaa || c == 0xba
         || (c >= 0x2160 && c <= 0x217f) || (c >= 0x24b6 && c <= 0x24e9)
         || (c >= 0x1f130 && c <= 0x1f149) || (c >= 0x1f150 && c <= 0x1f169)
         || (c >= 0x1f170 && c <= 0x1f189);
}

/* Python's "case-ignorable": Mn, Me, Cf, Lm, Sk, and the word-break
 * MidLetter / MidNumLet / Single_Quote characters. */
static gboolean
is_case_ignorable (gunichar c)
{
  static const gunichar mid[] = { 0x27, 0x2e, 0x3a, 0xb7, 0x387, 0x55f, 0x5f4, 0x2018, 0x2019,
                                  0x2024, 0x2027, 0xfe13, 0xfe52, 0xfe55, 0xff07, 0xff0e, 0xff1a };

  switch (g_unichar_type (c))
    {
    case G_UNICODE_NON_SPACING_MARK:
    case G_UNICODE_ENCLOSING_MARK:
    case G_UNICODE_FORMAT:
    case G_UNICODE_MODIFIER_LETTER:
    case G_UNICODE_MODIFIER_SYMBOL:
      return TRUE;
    default:
      break;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (mid); i++)
    if (c == mid[i])
      return TRUE;
  return FALSE;
}

/* Python's str.lower() of the N characters of W, appended to OUT: the full
 * lower-case mapping (U+0130 becomes "i" + U+0307), capital sigma final or
 * not by CPython's rule, and the case mappings of the numerals Ⅰ–Ⅿ and the
 * circled letters Ⓐ–Ⓩ, which g_unichar_tolower leaves alone. */
static void
py_lower (const gunichar *w, gsize n, GString *out)
{
  for (gsize i = 0; i < n; i++)
    {
      gunichar c = w[i];

      if (c == 0x130)
        {
          g_string_append_unichar (out, 'i');
          c = 0x307;
        }
      else if (c == 0x3a3)
        {
          gboolean final = FALSE;
          gsize j = i;

          while (j > 0 && is_case_ignorable (w[j - 1]))
            j--;
          if (j > 0 && is_cased (w[j - 1]))
            {
              j = i + 1;
              while (j < n && is_case_ignorable (w[j]))
                j++;
              final = j == n || !is_cased (w[j]);
            }
          c = final ? 0x3c2 : 0x3c3;
        }
      else if (c >= 0x2160 && c <= 0x216f)
        c += 0x10;
      else if (c >= 0x24b6 && c <= 0x24cf)
        c += 0x1a;
      else
        c = g_unichar_tolower (c);
      g_string_append_unichar (out, c);
    }
}

char *
gen_tok_clean (const char *text, gsize len)
{
  GString *a = g_string_sized_new (len + 16);
  GString *out = g_string_sized_new (len + 16);
  GArray *word = g_array_new (FALSE, FALSE, sizeof (gunichar));
  const char *p, *end = text + len;
  char *nfc;

  /* _clean_text and _tokenize_chinese_chars, one character at a time */
  for (p = text; p < end; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c == 0 || c == 0xfffd)
        continue;
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r'
          || g_unichar_type (c) == G_UNICODE_SPACE_SEPARATOR)
        g_string_append_c (a, ' ');
      else if (is_category_c (c))
        continue;
      else if (is_cjk (c))
        {
          g_string_append_c (a, ' ');
          g_string_append_unichar (a, c);
          g_string_append_c (a, ' ');
        }
      else
        g_string_append_unichar (a, c);
    }

  /* NFC, then words split at whitespace, each lower-cased, joined by ' ' */
  nfc = g_utf8_normalize (a->str, (gssize) a->len, G_NORMALIZE_NFC);
  for (p = nfc ? nfc : "";; p = g_utf8_next_char (p))
    {
      gunichar c = *p ? g_utf8_get_char (p) : 0;

      if (c != 0 && !gen_tok_is_py_space (c))
        {
          g_array_append_val (word, c);
          continue;
        }
      if (word->len > 0)
        {
          if (out->len > 0)
            g_string_append_c (out, ' ');
          py_lower ((const gunichar *) (void *) word->data, word->len, out);
          g_array_set_size (word, 0);
        }
      if (c == 0)
        break;
    }
  g_free (nfc);
  g_array_unref (word);
  g_string_free (a, TRUE);
  return g_string_free (out, FALSE);
}

/* ---- CLIP's pattern ---------------------------------------------------- */

enum { CLASS_LETTER, CLASS_NUMBER, CLASS_SPACE, CLASS_OTHER };

/* \p{L}, \p{N}, \s (Unicode White_Space) or none of them.  The pattern
 * ignores case, so a character one of whose case variants is a letter
 * counts as one: U+0345 (a mark; upper case U+0399) is the only such. */
static int
char_class (gunichar c)
{
  if (c == 0x345)
    return CLASS_LETTER;
  switch (g_unichar_type (c))
    {
    case G_UNICODE_UPPERCASE_LETTER:
    case G_UNICODE_LOWERCASE_LETTER:
    case G_UNICODE_TITLECASE_LETTER:
    case G_UNICODE_MODIFIER_LETTER:
    case G_UNICODE_OTHER_LETTER:
      return CLASS_LETTER;
    case G_UNICODE_DECIMAL_NUMBER:
    case G_UNICODE_LETTER_NUMBER:
    case G_UNICODE_OTHER_NUMBER:
      return CLASS_NUMBER;
    default:
      return gen_tok_is_py_space (c) && !(c >= 0x1c && c <= 0x1f) ? CLASS_SPACE : CLASS_OTHER;
    }
}

/* Length of the alternative of the pattern that matches first at P among
 * <|startoftext|>, <|endoftext|>, 's, 't, 're, 've, 'm, 'll, 'd; 0 if none.
 * The text is lower-cased already (the pattern ignores case). */
static gsize
match_fixed (const char *p, gboolean *special)
{
  static const char *const fixed[] = {
    "<|startoftext|>", "<|endoftext|>", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (fixed); i++)
    {
      gsize n = strlen (fixed[i]);

      if (strncmp (p, fixed[i], n) == 0)
        {
          *special = i < 2;
          return n;
        }
    }
  return 0;
}

void
gen_tok_split (const char *text, GenTokPieceFunc func, gpointer user_data)
{
  const char *p = text;

  while (*p)
    {
      gboolean special = FALSE;
      gsize n = match_fixed (p, &special);
      const char *q;
      int cls;

      if (n > 0)
        {
          func (p, n, special, user_data);
          p += n;
          continue;
        }
      cls = char_class (g_utf8_get_char (p));
      q = g_utf8_next_char (p);
      if (cls == CLASS_SPACE)
        {
          p = q;
          continue;
        }
      /* \p{L}+ and [^\s\p{L}\p{N}]+ are greedy; \p{N} is one character */
      if (cls != CLASS_NUMBER)
        while (*q && char_class (g_utf8_get_char (q)) == cls)
          q = g_utf8_next_char (q);
      func (p, (gsize) (q - p), FALSE, user_data);
      p = q;
    }
}

/* ---- bytes to unicode -------------------------------------------------- */

/* GPT-2's bytes_to_unicode(): the printable bytes ! .. ~, ¡ .. ¬ and ® .. ÿ
 * stand for themselves; the 68 others, in order, become U+0100 .. U+0143. */
static gunichar
byte_char (guint8 b)
{
  if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae)
    return b;
  if (b <= 0x20)
    return 0x100 + b;
  if (b <= 0xa0)
    return 0x100 + 0x21 + (b - 0x7f);
  return 0x100 + 0x21 + 0x22; /* 0xad */
}

void
gen_tok_bytes_encode (const char *s, gsize len, GString *out)
{
  for (gsize i = 0; i < len; i++)
    g_string_append_unichar (out, byte_char ((guint8) s[i]));
}
